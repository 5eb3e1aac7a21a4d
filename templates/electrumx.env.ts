export default `# {{header}}
DAEMON_URL=http://{{rpc_user}}:{{rpc_pass}}@{{bitcoin_host}}:8332/
COIN=Bitcoin
NET={{net}}
DB_ENGINE=leveldb
DB_DIRECTORY=/data
SERVICES=tcp://:50001,rpc://0.0.0.0:8000
`;
