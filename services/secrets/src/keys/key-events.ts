import { type EventMetadata } from '../secrets/secret';

export const DATA_KEY_ROTATED = 'DataKeyRotated';
export const DATA_KEYS_REWRAPPED = 'DataKeysRewrapped';

/**
 * Key management, appended to `organization:<org>` and published like every event (audited; redaction knows both
 * change no value). Data keys are named by id, master keys by kid; never key material.
 */
export type KeyEvent =
  /**
   * `keys rotate --org [--customer]`: the scope's new writes use `dataKeyId`; older versions keep their keys. No
   * `customerOrganizationId` (every event of earlier releases) is the vendor level.
   */
  | Readonly<{
      type: typeof DATA_KEY_ROTATED;
      data: Readonly<{ organizationId: string; dataKeyId: string; customerOrganizationId?: string }>;
      metadata: EventMetadata;
    }>
  /** `keys rotate-master`: `dataKeys` of the organization's data keys were rewrapped under the master key `masterKid`. */
  | Readonly<{
      type: typeof DATA_KEYS_REWRAPPED;
      data: Readonly<{ organizationId: string; masterKid: string; dataKeys: number }>;
      metadata: EventMetadata;
    }>;
