// Core Lightning config file (lightningd --conf=…): how lightningd reaches
// bitcoind. lightningd takes bitcoin-rpcpassword only as an option (command line
// or config file), and the image's entrypoint maps no environment variable to it
// (ElementsProject/lightning tools/docker-entrypoint.sh), so it is a 0600 file
// rather than an argument visible in the unit and `ps`.
export default `# {{header}}
bitcoin-rpcconnect={{bitcoin_host}}
bitcoin-rpcport=8332
bitcoin-rpcuser={{rpc_user}}
bitcoin-rpcpassword={{rpc_pass}}
`;
