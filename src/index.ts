/**
 * The package's main entry (`import … from 'im-bridge'`): the daemon, to embed it, and the public
 * sink API. Importing it has no side effects (nothing listens or opens until Bridge.start), but it
 * loads the whole daemon (HTTP server, SQLite, Kafka client): a plugin imports `im-bridge/sink`,
 * which loads only the API, and `im-bridge/kafka` for the Kafka security settings.
 */
export * from './sink/api.js';
export { Bridge, type BridgeOptions } from './bridge.js';
