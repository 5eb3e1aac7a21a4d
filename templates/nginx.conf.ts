// Server block for a UI companion. The Authorization header is injected here,
// at runtime, so the image never contains a credential. /bitcoin-rpc/ carries
// only what bitcoind's rpcwhitelist allows this UI's user (read-only calls):
// JSON-RPC POSTs of a few KiB, nothing else.
export default `# {{header}}
server {
    listen 80;
    server_name _;
    root /usr/share/nginx/html;

    location / {
        try_files $uri $uri/ /index.html;
    }

    location /bitcoin-rpc/ {
        limit_except POST { deny all; }
        client_max_body_size 16k;
        proxy_pass http://{{bitcoin_host}}:8332/;
        proxy_set_header Authorization "Basic {{basic_auth}}";
        proxy_set_header Host $host;
    }
{{extra_locations}}}
`;
