// Rendered as TOML by smol-toml; this object is the template.
export default {
  containers: {
    // Without it host.containers.internal resolved to the LAN gateway on nodes.
    host_containers_internal_ip: "10.89.0.1",
  },
};
