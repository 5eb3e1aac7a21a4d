// What each upstream image the catalog pins looks like from the outside — its
// ENTRYPOINT/CMD/USER/WORKDIR, the executables the manifests name, the files
// the program reads and writes, the credentials it takes and the ports it
// serves — so that a stand-in built from this (images.ts) fails where the
// real image would. Written from the upstream Dockerfiles and docs at the
// pinned tags, not from our manifests: a manifest that passes the wrong env
// name, user or path must fail here too.
//
// The stand-in runtime (runtime.mjs) plays the roles; `exes` maps a path in
// the image to `[role, ...fixed args]` (a shim), `scripts` are shell scripts
// (busybox sh) such as upstream entrypoints that drop privileges.

export interface ServiceContract {
  argvIncludes?: string[];
  /** "A|B": at least one of them must be set. */
  requireEnv?: string[];
  envOneOf?: Record<string, string[]>;
  /** Files that must be readable (${VAR} expanded; unset VAR = fatal). */
  reads?: string[];
  /** Directories that must be writable. */
  writes?: string[];
  /** Flags whose values are directories that must be writable. */
  writeArgs?: string[];
  /** bitcoind credential: env-expanded user/pass/host/port, or a URL with user:pass@host:port. */
  rpc?: { user?: string; pass?: string; host?: string; port?: string; url?: string; hostPort?: string };
  /** The chain the program is configured for (env-expanded), checked against bitcoind's. */
  chain?: string;
  /** host:port (or a connection string with Host=…;Port=…) that must accept connections first. */
  tcp?: string[];
  listen?: string[];
  /** An env var holding a comma-separated list of listen URLs (ElectrumX's SERVICES). */
  listenFrom?: string;
  /** Flags whose values are listen addresses. */
  listenArgs?: string[];
}

export interface Contract {
  /** Which base: node (busybox + node + bash) or nginx (busybox + Debian's nginx). */
  base: "node" | "nginx";
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  workdir?: string;
  env?: Record<string, string>;
  /** Extra /etc/passwd users: [name, uid, gid]. */
  users?: [string, number, number][];
  /** Directories in the image: path → [mode, uid, gid]. */
  dirs?: Record<string, [number, number, number]>;
  exes?: Record<string, string[]>;
  scripts?: Record<string, string>;
  files?: Record<string, string>;
  service?: ServiceContract;
  readyAfterSec?: number;
  subversion?: string;
  probeSays?: string;
  /** Tools of the upstream image (from the guest's Debian packages). */
  tools?: ("bash" | "curl" | "jq" | "tor")[];
  /** Bake a self-signed TLS cert/key (SAN lnd, localhost) for the role to use. */
  tls?: boolean;
}

/** The bitcoin images drop privileges with gosu (the stand-in's gosu needs SETUID/SETGID as the real one does). */
const bitcoinEntrypoint = `#!/bin/sh
# bitcoin images' entrypoint: bitcoind options first, datadir owned by bitcoin, then drop to bitcoin.
set -e
if [ "\${1#-}" != "$1" ]; then set -- bitcoind "$@"; fi
if [ "\${1#-}" != "$1" ] || [ "$1" = bitcoind ]; then
  mkdir -p "$BITCOIN_DATA"
  chmod 700 "$BITCOIN_DATA"
  chown -R bitcoin:bitcoin "$BITCOIN_DATA"
  set -- "$@" -datadir="$BITCOIN_DATA"
fi
if [ "$1" = bitcoind ] || [ "$1" = bitcoin-cli ]; then exec gosu bitcoin:bitcoin "$@"; fi
exec "$@"
`;

const bitcoin = (subversion: string): Contract => ({
  base: "node",
  entrypoint: ["/entrypoint.sh"],
  cmd: ["bitcoind"],
  env: { BITCOIN_DATA: "/home/bitcoin/.bitcoin" },
  users: [["bitcoin", 101, 101]],
  dirs: { "/home/bitcoin": [0o755, 101, 101] },
  exes: { "/usr/local/bin/bitcoind": ["bitcoind"], "/usr/local/bin/bitcoin-cli": ["bitcoin-cli"] },
  scripts: { "/entrypoint.sh": bitcoinEntrypoint },
  subversion,
  readyAfterSec: 3,
});

/** `exec "$@"` after optional setup: the common shape of upstream entrypoints. */
const passThrough = (note: string) => `#!/bin/sh\n# ${note}\nexec "$@"\n`;

/** docker-library entrypoints: a first argument starting with '-' means options for the server. */
const dockerLibrary = (server: string, user: string, dataDir: string) => `#!/bin/sh
set -e
if [ "\${1#-}" != "$1" ]; then set -- ${server} "$@"; fi
if [ "$1" = ${server} ] && [ "$(id -u)" = 0 ]; then
  mkdir -p ${dataDir}
  chown -R ${user} ${dataDir}
  exec gosu ${user} "$@"
fi
exec "$@"
`;

export const CONTRACTS: Record<string, Contract> = {
  // bitcoin/bitcoin and bitcoinknots/bitcoin: ENTRYPOINT /entrypoint.sh, CMD bitcoind, gosu to bitcoin.
  "docker.io/bitcoin/bitcoin": bitcoin("/Satoshi:29.2.0/"),
  "docker.io/bitcoinknots/bitcoin": bitcoin("/Satoshi:29.2.0/Knots:20251110/"),

  // lightninglabs/lnd: ENTRYPOINT ["lnd"], runs as root, lncli beside it.
  "docker.io/lightninglabs/lnd": {
    base: "node",
    entrypoint: ["lnd"],
    tools: ["bash", "curl", "jq"],
    tls: true,
    exes: { "/bin/lnd": ["lnd"], "/bin/lncli": ["lncli"] },
  },

  // lukechilds/electrumx 1.16: CMD ["init"], env-configured (DAEMON_URL, COIN, NET, DB_DIRECTORY, SERVICES);
  // ElectrumX 1.16's Bitcoin coin classes cover mainnet, testnet and regtest.
  "docker.io/lukechilds/electrumx": {
    base: "node",
    cmd: ["init"],
    env: { HOME: "/data", DB_DIRECTORY: "/data", SERVICES: "tcp://:50001,rpc://", COIN: "BitcoinSegwit" },
    exes: { "/usr/local/bin/init": ["service"], "/usr/local/bin/electrumx_rpc": ["probe-tcp", "127.0.0.1", "8000"] },
    service: {
      requireEnv: ["DAEMON_URL", "DB_DIRECTORY", "DB_ENGINE"],
      envOneOf: { COIN: ["Bitcoin", "BitcoinSegwit"], NET: ["mainnet", "testnet", "regtest"] },
      writes: ["${DB_DIRECTORY}"],
      rpc: { url: "${DAEMON_URL}" },
      chain: "${NET}",
      listenFrom: "SERVICES",
    },
  },

  // getumbrel/electrs v0.11.1: ENTRYPOINT ["electrs"]; settings from ELECTRS_* env, auth from a config file or cookie.
  "docker.io/getumbrel/electrs": {
    base: "node",
    entrypoint: ["electrs"],
    user: "1000:1000",
    env: { HOME: "/data" },
    tools: ["bash"],
    users: [["electrs", 1000, 1000]],
    exes: { "/usr/bin/electrs": ["electrs"] },
  },

  // cculianu/fulcrum: ENTRYPOINT ["entrypoint.sh"], CMD ["Fulcrum"]; `_ENV_` reads the config from env.
  "docker.io/cculianu/fulcrum": {
    base: "node",
    entrypoint: ["entrypoint.sh"],
    cmd: ["Fulcrum"],
    tools: ["bash"],
    scripts: { "/usr/bin/entrypoint.sh": passThrough("fulcrum entrypoint") },
    exes: { "/usr/bin/Fulcrum": ["service"] },
    service: {
      argvIncludes: ["_ENV_"],
      requireEnv: ["DATA_DIR", "BITCOIND", "RPCUSER|RPCCOOKIE", "TCP"],
      writes: ["${DATA_DIR}"],
      rpc: { user: "${RPCUSER}", pass: "${RPCPASSWORD}", hostPort: "${BITCOIND}" },
      listen: ["${TCP}"],
    },
  },

  // getumbrel/btc-rpc-explorer: node app, `npm start`; BTCEXP_* env.
  "docker.io/getumbrel/btc-rpc-explorer": {
    base: "node",
    cmd: ["npm", "start"],
    workdir: "/workspace",
    exes: { "/usr/local/bin/npm": ["service"] },
    service: {
      rpc: { user: "${BTCEXP_BITCOIND_USER}", pass: "${BTCEXP_BITCOIND_PASS}", host: "${BTCEXP_BITCOIND_HOST}", port: "${BTCEXP_BITCOIND_PORT:-8332}" },
      listen: ["${BTCEXP_HOST:-127.0.0.1}:${BTCEXP_PORT:-3002}"],
    },
  },

  // btcpayserver/btcpayserver: WORKDIR /app, ENTRYPOINT ["/app/docker-entrypoint.sh"] (dotnet BTCPayServer.dll).
  "docker.io/btcpayserver/btcpayserver": {
    base: "node",
    entrypoint: ["/app/docker-entrypoint.sh"],
    workdir: "/app",
    files: { "/app/BTCPayServer.dll": "standin assembly\n" },
    scripts: { "/app/docker-entrypoint.sh": `#!/bin/sh\nexec dotnet BTCPayServer.dll "$@"\n` },
    exes: { "/usr/bin/dotnet": ["dotnet"] },
    service: {
      requireEnv: ["BTCPAY_POSTGRES", "BTCPAY_BTCEXPLORERURL"],
      envOneOf: { BTCPAY_NETWORK: ["mainnet", "testnet", "regtest", "signet"] },
      writes: ["${BTCPAY_DATADIR}"],
      tcp: ["${BTCPAY_POSTGRES}", "${BTCPAY_BTCEXPLORERURL}"],
      listen: ["${BTCPAY_BIND:-127.0.0.1:23000}"],
    },
  },

  // nicolasdorier/nbxplorer: WORKDIR /app, ENTRYPOINT ["./docker-entrypoint.sh"] (dotnet NBXplorer.dll).
  "docker.io/nicolasdorier/nbxplorer": {
    base: "node",
    entrypoint: ["./docker-entrypoint.sh"],
    workdir: "/app",
    files: { "/app/NBXplorer.dll": "standin assembly\n" },
    scripts: { "/app/docker-entrypoint.sh": `#!/bin/sh\nexec dotnet NBXplorer.dll "$@"\n` },
    exes: { "/usr/bin/dotnet": ["dotnet"] },
    service: {
      requireEnv: ["NBXPLORER_POSTGRES"],
      writes: ["${NBXPLORER_DATADIR}"],
      rpc: { user: "${NBXPLORER_BTCRPCUSER}", pass: "${NBXPLORER_BTCRPCPASSWORD}", hostPort: "${NBXPLORER_BTCRPCURL}" },
      chain: "${NBXPLORER_NETWORK}",
      tcp: ["${NBXPLORER_POSTGRES}", "${NBXPLORER_BTCNODEENDPOINT}"],
      listen: ["${NBXPLORER_BIND:-127.0.0.1:32838}"],
    },
  },

  // postgres alpine: ENTRYPOINT docker-entrypoint.sh, CMD postgres; needs a password or trust; runs as postgres (70).
  "docker.io/library/postgres": {
    base: "node",
    entrypoint: ["docker-entrypoint.sh"],
    cmd: ["postgres"],
    env: { PGDATA: "/var/lib/postgresql/data" },
    users: [["postgres", 70, 70]],
    scripts: { "/usr/local/bin/docker-entrypoint.sh": dockerLibrary("postgres", "postgres:postgres", "$PGDATA") },
    exes: { "/usr/local/bin/postgres": ["service"], "/usr/local/bin/pg_isready": ["probe-tcp", "127.0.0.1", "5432"] },
    service: { requireEnv: ["POSTGRES_PASSWORD|POSTGRES_HOST_AUTH_METHOD"], writes: ["${PGDATA}"], listen: ["5432"] },
  },

  // elementsproject/lightningd: ENTRYPOINT tini -g -- ./entrypoint.sh, which adds --network=$LIGHTNINGD_NETWORK.
  "docker.io/elementsproject/lightningd": {
    base: "node",
    entrypoint: ["/usr/bin/tini", "-g", "--", "./entrypoint.sh"],
    workdir: "/",
    env: { LIGHTNINGD_DATA: "/root/.lightning", LIGHTNINGD_NETWORK: "bitcoin" },
    scripts: {
      "/usr/bin/tini": `#!/bin/sh\n[ "$1" = -g ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n`,
      "/entrypoint.sh": `#!/bin/sh\nexec lightningd --network="$LIGHTNINGD_NETWORK" "$@"\n`,
    },
    exes: { "/usr/bin/lightningd": ["lightningd"], "/usr/bin/lightning-cli": ["lightning-cli"] },
  },

  // filebrowser/filebrowser: ENTRYPOINT tini -- /init.sh; FB_* env.
  "docker.io/filebrowser/filebrowser": {
    base: "node",
    entrypoint: ["/init.sh"],
    exes: { "/init.sh": ["service"] },
    service: { writes: ["/srv", "/database"], listen: ["${FB_ADDRESS:-127.0.0.1}:${FB_PORT:-8080}"] },
  },

  // home-assistant: ENTRYPOINT /init (s6), config in /config, port 8123.
  "ghcr.io/home-assistant/home-assistant": {
    base: "node",
    entrypoint: ["/init"],
    exes: { "/init": ["service"] },
    service: { writes: ["/config"], listen: ["8123"] },
  },

  // joinmarket-webui/jam-standalone: the UI on port 80 (nginx) in front of joinmarket; jm_* env rewrites joinmarket.cfg.
  "ghcr.io/joinmarket-webui/jam-standalone": {
    base: "node",
    entrypoint: ["/jam-entrypoint.sh"],
    exes: { "/jam-entrypoint.sh": ["service"] },
    service: {
      writes: ["/root/.joinmarket"],
      rpc: { user: "${jm_rpc_user}", pass: "${jm_rpc_password}", host: "${jm_rpc_host}", port: "${jm_rpc_port}" },
      chain: "${jm_network}",
      listen: ["80"],
    },
  },

  // lnbits: uvicorn app on LNBITS_HOST:LNBITS_PORT; LndRestWallet reads the cert and macaroon files.
  "docker.io/lnbits/lnbits": {
    base: "node",
    cmd: ["sh", "-c", "uv run lnbits"],
    workdir: "/app",
    exes: { "/usr/local/bin/uv": ["service"] },
    service: {
      reads: ["${LND_REST_CERT}", "${LND_REST_MACAROON}"],
      writes: ["${LNBITS_DATA_FOLDER}"],
      tcp: ["${LND_REST_ENDPOINT}"],
      listen: ["${LNBITS_HOST:-127.0.0.1}:${LNBITS_PORT:-5000}"],
    },
  },

  // mempool/frontend: nginx serving the app on FRONTEND_HTTP_PORT (entrypoint templates the config).
  "docker.io/mempool/frontend": {
    base: "node",
    entrypoint: ["/patch/entrypoint.sh"],
    cmd: ["nginx", "-g", "daemon off;"],
    scripts: { "/patch/entrypoint.sh": passThrough("mempool frontend entrypoint") },
    exes: { "/usr/sbin/nginx": ["service"] },
    service: { tcp: ["${BACKEND_MAINNET_HTTP_HOST}:${BACKEND_MAINNET_HTTP_PORT}"], listen: ["${FRONTEND_HTTP_PORT:-8080}"] },
  },

  // mempool/backend: WORKDIR /backend, runs as uid 1000; CORE_RPC_*, DATABASE_*, ELECTRUM_* env.
  "docker.io/mempool/backend": {
    base: "node",
    entrypoint: ["/backend/entrypoint.sh"],
    cmd: ["/backend/start.sh"],
    workdir: "/backend",
    user: "1000",
    tools: ["bash"],
    users: [["mempool", 1000, 1000]],
    scripts: {
      "/backend/entrypoint.sh": passThrough("mempool backend entrypoint"),
      "/backend/wait-for-it.sh": `#!/bin/bash
# wait-for-it.sh HOST:PORT [--timeout=N] [--strict] -- CMD... (a bash script upstream: /dev/tcp)
hp=$1; shift; t=15; strict=0
while [ $# -gt 0 ]; do case "$1" in --timeout=*) t=\${1#--timeout=}; shift ;; --strict) strict=1; shift ;; --) shift; break ;; *) shift ;; esac; done
ok=0
for ((i = 0; i < t; i++)); do if (echo >"/dev/tcp/\${hp%:*}/\${hp#*:}") >/dev/null 2>&1; then ok=1; break; fi; sleep 1; done
if [ $ok = 0 ] && [ $strict = 1 ]; then echo "wait-for-it.sh: timeout after $t seconds waiting for $hp" >&2; exit 1; fi
exec "$@"
`,
    },
    exes: { "/backend/start.sh": ["service"] },
    service: {
      requireEnv: ["DATABASE_PASSWORD"],
      writes: ["${MEMPOOL_CACHE_DIR}"],
      rpc: { user: "${CORE_RPC_USERNAME}", pass: "${CORE_RPC_PASSWORD}", host: "${CORE_RPC_HOST}", port: "${CORE_RPC_PORT}" },
      chain: "${MEMPOOL_NETWORK}",
      tcp: ["${DATABASE_HOST}:${DATABASE_PORT}", "${ELECTRUM_HOST}:${ELECTRUM_PORT}"],
      listen: ["${MEMPOOL_HTTP_PORT:-8999}"],
    },
  },

  // mariadb: ENTRYPOINT docker-entrypoint.sh, CMD mariadbd; needs a user password or a root password policy; runs as mysql (999).
  "docker.io/library/mariadb": {
    base: "node",
    entrypoint: ["docker-entrypoint.sh"],
    cmd: ["mariadbd"],
    users: [["mysql", 999, 999]],
    scripts: { "/usr/local/bin/docker-entrypoint.sh": dockerLibrary("mariadbd", "mysql:mysql", "/var/lib/mysql") },
    exes: { "/usr/local/bin/mariadbd": ["service"], "/usr/local/bin/healthcheck.sh": ["probe-tcp", "127.0.0.1", "3306"] },
    service: {
      requireEnv: ["MARIADB_ROOT_PASSWORD|MARIADB_RANDOM_ROOT_PASSWORD|MARIADB_ALLOW_EMPTY_ROOT_PASSWORD|MARIADB_ROOT_PASSWORD_HASH"],
      writes: ["/var/lib/mysql"],
      listen: ["3306"],
    },
  },

  // netdata: ENTRYPOINT /usr/sbin/run.sh; /usr/sbin/health.sh checks the API on 19999.
  "docker.io/netdata/netdata": {
    base: "node",
    entrypoint: ["/usr/sbin/run.sh"],
    exes: { "/usr/sbin/run.sh": ["service"], "/usr/sbin/health.sh": ["probe-http", "http://127.0.0.1:19999/api/v1/info"] },
    service: { reads: ["/host/proc/meminfo", "/host/etc/os-release"], writes: ["/etc/netdata", "/var/lib/netdata", "/var/cache/netdata"], listen: ["19999"] },
  },

  // nextcloud apache: ENTRYPOINT /entrypoint.sh, CMD apache2-foreground; /cron.sh for the cron container.
  "docker.io/library/nextcloud": {
    base: "node",
    entrypoint: ["/entrypoint.sh"],
    cmd: ["apache2-foreground"],
    users: [["www-data", 33, 33]],
    scripts: { "/entrypoint.sh": passThrough("nextcloud entrypoint"), "/cron.sh": `#!/bin/sh\nset -e\ntest -w /var/www/html\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait; done\n` },
    exes: { "/usr/local/bin/apache2-foreground": ["service"] },
    service: {
      requireEnv: ["MYSQL_PASSWORD|MYSQL_PASSWORD_FILE"],
      writes: ["/var/www/html"],
      tcp: ["${MYSQL_HOST}:3306", "${REDIS_HOST}:6379"],
      listen: ["80"],
    },
  },

  // redis alpine: ENTRYPOINT docker-entrypoint.sh, CMD redis-server; drops to redis (999) and writes /data.
  "docker.io/library/redis": {
    base: "node",
    entrypoint: ["docker-entrypoint.sh"],
    cmd: ["redis-server"],
    workdir: "/data",
    users: [["redis", 999, 1000]],
    scripts: { "/usr/local/bin/docker-entrypoint.sh": dockerLibrary("redis-server", "redis:redis", "/data") },
    exes: { "/usr/local/bin/redis-server": ["service"], "/usr/local/bin/redis-cli": ["probe-tcp", "127.0.0.1", "6379"] },
    probeSays: "PONG",
    service: { writes: ["/data"], listen: ["6379"] },
  },

  // scsibug/nostr-rs-relay 0.9.0: WORKDIR /usr/src/app, USER appuser, no ENTRYPOINT, shell-form CMD ./nostr-rs-relay.
  "docker.io/scsibug/nostr-rs-relay": {
    base: "node",
    cmd: ["/bin/sh", "-c", "./nostr-rs-relay"],
    workdir: "/usr/src/app",
    user: "appuser",
    users: [["appuser", 1000, 1000]],
    exes: { "/usr/src/app/nostr-rs-relay": ["service"] },
    service: { writeArgs: ["--db"], listen: ["8080"] },
  },

  // shahanafarooqui/rtl: WORKDIR /RTL, ENTRYPOINT ["node", "rtl"]; reads admin.macaroon in MACAROON_PATH.
  "docker.io/shahanafarooqui/rtl": {
    base: "node",
    entrypoint: ["node", "rtl"],
    workdir: "/RTL",
    exes: { "/usr/local/bin/node": ["service"] },
    service: {
      reads: ["${MACAROON_PATH}/admin.macaroon"],
      writes: ["${RTL_CONFIG_PATH}", "${DB_DIRECTORY_PATH}"],
      tcp: ["${LN_SERVER_URL}"],
      listen: ["${HOST:-0.0.0.0}:${PORT:-3000}"],
    },
  },

  // cryptoadvance/specter-desktop (docker/Dockerfile, derived from lncm/docker-specter-desktop):
  // USER specter (1000), ENTRYPOINT python3 -m cryptoadvance.specter server; BTC_RPC_* env.
  "ghcr.io/cryptoadvance/specter-desktop": {
    base: "node",
    entrypoint: ["python3", "-m", "cryptoadvance.specter", "server"],
    user: "specter",
    users: [["specter", 1000, 1000]],
    exes: { "/usr/local/bin/python3": ["service"] },
    service: {
      writeArgs: ["--specter-data-folder"],
      rpc: { user: "${BTC_RPC_USER}", pass: "${BTC_RPC_PASSWORD}", host: "${BTC_RPC_HOST}", port: "${BTC_RPC_PORT}" },
      listen: ["25441"],
    },
  },

  // syncthing: ENTRYPOINT /bin/entrypoint.sh /bin/syncthing, drops to PUID/PGID; GUI on STGUIADDRESS; curl for the health check.
  "docker.io/syncthing/syncthing": {
    base: "node",
    entrypoint: ["/bin/entrypoint.sh", "/bin/syncthing"],
    scripts: { "/bin/entrypoint.sh": `#!/bin/sh\nset -e\nchown "\${PUID:-1000}:\${PGID:-1000}" /var/syncthing\nexec su-exec "\${PUID:-1000}:\${PGID:-1000}" "$@"\n` },
    tools: ["curl"],
    exes: { "/bin/syncthing": ["service"] },
    service: { writes: ["/var/syncthing"], listen: ["${STGUIADDRESS:-127.0.0.1:8384}", "22000"] },
  },

  // apotdevin/thunderhub: USER node (1000), WORKDIR /app, `npm run start:prod`; SSO_* env names the cert and macaroon dir.
  "docker.io/apotdevin/thunderhub": {
    base: "node",
    cmd: ["npm", "run", "start:prod"],
    workdir: "/app",
    user: "node",
    users: [["node", 1000, 1000]],
    exes: { "/usr/local/bin/npm": ["service"] },
    service: {
      reads: ["${SSO_CERT_PATH}", "${SSO_MACAROON_PATH}/admin.macaroon"],
      writes: ["/data"],
      tcp: ["${SSO_SERVER_URL}"],
      listen: ["${PORT:-3000}"],
    },
  },

  // getumbrel/tor: ENTRYPOINT ["tor"], runs as uid 1000.
  "ghcr.io/getumbrel/tor": {
    base: "node",
    entrypoint: ["tor"],
    user: "1000:1000",
    users: [["tor", 1000, 1000]],
    // Debian's real tor binary: it checks the derived torrc and creates the hidden service
    // directories and their `hostname` files at start, before any network bootstrap.
    tools: ["tor"],
  },

  // louislam/uptime-kuma: WORKDIR /app, ENTRYPOINT dumb-init --, CMD node server/server.js; extra/healthcheck probes 3001.
  "docker.io/louislam/uptime-kuma": {
    base: "node",
    entrypoint: ["/usr/bin/dumb-init", "--"],
    cmd: ["node", "server/server.js"],
    workdir: "/app",
    scripts: { "/usr/bin/dumb-init": `#!/bin/sh\n[ "$1" = -- ] && shift\nexec "$@"\n` },
    exes: { "/usr/local/bin/node": ["service"], "/app/extra/healthcheck": ["probe-http", "http://127.0.0.1:3001/"] },
    service: { writes: ["/app/data"], listen: ["3001"] },
  },

  // vaultwarden/server: ENTRYPOINT /start.sh; ROCKET_PORT (default 80); /healthcheck.sh probes /alive.
  "docker.io/vaultwarden/server": {
    base: "node",
    entrypoint: ["/start.sh"],
    exes: { "/start.sh": ["service"], "/healthcheck.sh": ["probe-http", "http://127.0.0.1:${ROCKET_PORT:-80}/alive"] },
    service: { writes: ["/data"], listen: ["${ROCKET_ADDRESS:-0.0.0.0}:${ROCKET_PORT:-80}"] },
  },

  // nginx alpine, the UI companions' base: Debian's nginx with the official image's layout
  // (conf.d include, temp paths under /var/cache/nginx, logs to stdout/stderr, workers as nginx).
  "docker.io/library/nginx": { base: "nginx" },
};

/** docker.io/x/y:tag@sha256:… → docker.io/x/y */
export function repoOf(image: string): string {
  return image.replace(/@sha256:[0-9a-f]{64}$/, "").replace(/:[^/:]+$/, "");
}

/** docker.io/x/y:tag@sha256:… → tag */
export function tagOf(image: string): string {
  const m = /:([^/:@]+)(?:@sha256:[0-9a-f]{64})?$/.exec(image);
  return m ? m[1]! : "latest";
}
