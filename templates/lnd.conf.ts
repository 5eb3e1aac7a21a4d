// lnd.conf: network, bitcoind RPC credentials and ZMQ endpoints; with a wallet
// password, the [Application Options] that make lnd unlock itself at start.
export default `; {{header}}
{{app_options}}[Bitcoin]
bitcoin.{{network}}=1
bitcoin.node=bitcoind

[Bitcoind]
bitcoind.rpchost={{bitcoin_host}}:8332
bitcoind.rpcuser={{rpc_user}}
bitcoind.rpcpass={{rpc_pass}}
bitcoind.zmqpubrawblock=tcp://{{bitcoin_host}}:28332
bitcoind.zmqpubrawtx=tcp://{{bitcoin_host}}:28333
`;
