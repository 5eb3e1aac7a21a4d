// bitcoin.conf for bitcoin-knots and bitcoin-core. {{name}} slots are filled by
// src/configs/render.ts, which refuses unknown names and values with line breaks.
// Network-only options (rpcbind, rpcport, bind, port, whitebind) sit in the
// selected network's section, where bitcoind reads them on every network.
export default `# {{header}}
# One rpcauth line per consuming app; passwords live only in the secrets store.
chain={{chain}}
server=1
txindex=1
rpcallowip=127.0.0.1
rpcallowip={{subnet}}
zmqpubrawblock=tcp://0.0.0.0:28332
zmqpubrawtx=tcp://0.0.0.0:28333
{{rpc_lines}}
[{{section}}]
rpcbind=0.0.0.0
rpcport=8332
{{section_lines}}`;
