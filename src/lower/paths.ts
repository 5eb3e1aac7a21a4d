// Where generated files live in the target tree. No imports: the fast no-op
// check reads these without loading the compiler.
export const UNIT_DIR = "etc/containers/systemd/archy";
export const CONFIG_ROOT = "/etc/archy";
export const CONTAINERS_CONF_DROPIN = "etc/containers/containers.conf.d/50-archy.conf";
export const SYSTEM_UNIT_DIR = "etc/systemd/system";
export const DATA_ROOT = "/var/lib/archy/apps";
