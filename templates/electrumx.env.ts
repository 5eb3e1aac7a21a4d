// ElectrumX environment file. The admin RPC (stop, disconnect, reorg, …) listens
// on loopback only: electrumx_rpc inside the container reaches it, other
// containers on the archy network do not (electrumx docs/environment.rst SERVICES).
export default `# {{header}}
DAEMON_URL=http://{{rpc_user}}:{{rpc_pass}}@{{bitcoin_host}}:8332/
COIN=Bitcoin
NET={{net}}
DB_ENGINE=leveldb
DB_DIRECTORY=/data
SERVICES=tcp://:50001,rpc://127.0.0.1:8000
`;
