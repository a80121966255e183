import { type PipeTransform } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { DEFAULT_MAX_REQUEST_BYTES, decodeRequest } from '@platform/contracts';

class ContractPipe<Desc extends DescMessage> implements PipeTransform<Uint8Array, MessageShape<Desc>> {
  constructor(
    private readonly schema: Desc,
    private readonly maxBytes: number,
  ) {}

  transform(body: Uint8Array): MessageShape<Desc> {
    return decodeRequest(this.schema, body, { maxBytes: this.maxBytes });
  }
}

/**
 * Handler parameter: the request body strictly decoded into its proto message (INVALID_ARGUMENT / PAYLOAD_TOO_LARGE otherwise).
 * The default limit (1 MiB + 64 KiB) is the contract's; subjects pass their own where it is smaller.
 */
export function RequestBody(schema: DescMessage, options: { maxBytes?: number } = {}): ParameterDecorator {
  return Payload(new ContractPipe(schema, options.maxBytes ?? DEFAULT_MAX_REQUEST_BYTES));
}
