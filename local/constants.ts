/** The local mode's fixed identity (contract 5): one region, one account, dummy credentials. */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
/** Every local endpoint binds here: nothing is reachable from other machines. */
export const LOCAL_HOST = '127.0.0.1';
