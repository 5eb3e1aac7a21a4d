// torrc for the tor app: SOCKS for the archy network, a password-protected
// control port (bitcoind's and lnd's ephemeral onions), and one hidden service
// per onion entry of the selected apps. Filled by src/configs/tor.ts.
export default `# {{header}}
# Onion services come from the manifests' \`onion\` entries (docs/tor.md); this
# file changes, and tor restarts, only when that set (or an address) changes.
DataDirectory {{data_dir}}
SocksPort 0.0.0.0:9050
SocksPolicy accept {{subnet}}
SocksPolicy reject *
# Reachable on the archy network only (the port is not published).
ControlPort {{control}}
HashedControlPassword {{hashed_password}}
{{services}}`;
