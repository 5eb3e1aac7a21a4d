export default `; {{header}}
[Bitcoin]
bitcoin.{{network}}=1
bitcoin.node=bitcoind

[Bitcoind]
bitcoind.rpchost={{bitcoin_host}}:8332
bitcoind.rpcuser={{rpc_user}}
bitcoind.rpcpass={{rpc_pass}}
bitcoind.zmqpubrawblock=tcp://{{bitcoin_host}}:28332
bitcoind.zmqpubrawtx=tcp://{{bitcoin_host}}:28333
`;
