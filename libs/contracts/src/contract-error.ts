import { CodedError } from './coded-error';

/** The two ways a body can break the wire contract; both map one-to-one onto the §2 error codes. */
export type ContractErrorCode = 'INVALID_ARGUMENT' | 'PAYLOAD_TOO_LARGE';

/** A request body that does not satisfy its message. The message names fields, never their values. */
export class ContractError extends CodedError<ContractErrorCode> {}
