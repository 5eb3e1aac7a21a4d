// Server block for a UI companion. The Authorization header is injected here,
// at runtime, so the image never contains a credential. /bitcoin-rpc/ carries
// only what bitcoind's rpcwhitelist allows this UI's user (read-only calls):
// JSON-RPC POSTs of a few KiB, nothing else.
export default `# {{header}}
server {
    listen 80;
    server_name _;
    root /usr/share/nginx/html;

    # Upstream names are resolved per request through the archy network's DNS
    # (aardvark-dns on the gateway): a literal proxy_pass host is resolved once,
    # at start, so nginx would refuse to start while bitcoind's container is
    # absent ("host not found in upstream") and keep a replaced container's old
    # address. A variable in proxy_pass defers the lookup to the resolver.
    resolver {{dns}} valid=10s ipv6=off;

    location / {
        try_files $uri $uri/ /index.html;
    }

    location /bitcoin-rpc/ {
        limit_except POST { deny all; }
        client_max_body_size 16k;
        set $bitcoin_upstream {{bitcoin_host}};
        rewrite ^/bitcoin-rpc/(.*)$ /$1 break;
        proxy_pass http://$bitcoin_upstream:8332;
        proxy_set_header Authorization "Basic {{basic_auth}}";
        proxy_set_header Host $host;
    }
{{extra_locations}}}
`;
