// `import { runDaemon } from 'edgenet/daemon'`: the daemon (`edgenet run`) and its API, to embed or drive. Kept
// out of the core entry ('edgenet'): this one loads fastify and chokidar. The inspector is 'edgenet/inspector'.
export { runDaemon } from './daemon/daemon.ts';
export type { DaemonDeps, DaemonOptions } from './daemon/daemon.ts';
export { CONFIG_BODY_LIMIT, parseConfigBody, serializeApply, startApiServer } from './api/server.ts';
export type { ApiServer, ApiServerOptions, ApplyFn } from './api/server.ts';
export { ApiError, createApiClient, DaemonUnreachableError, socketPathFor } from './api/client.ts';
export type { ApiClient, PutConfigOptions } from './api/client.ts';
export { packageVersion } from './util/package-info.ts';
