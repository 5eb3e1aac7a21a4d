// Which Podman release first accepts each Quadlet key or feature. Data, not code:
// `--podman-version` errors come from this table ("AddHost= needs Podman 5.3").
export type Version = readonly [major: number, minor: number];

export const UNIT_TYPE_SINCE: Record<string, Version> = {
  container: [4, 4],
  network: [4, 4],
  volume: [4, 4],
  kube: [4, 4],
  image: [4, 8],
  pod: [5, 0],
  build: [5, 2],
};

export const CONTAINER_KEY_SINCE: Record<string, Version> = {
  AddCapability: [4, 4], AddDevice: [4, 4], Annotation: [4, 4], ContainerName: [4, 4], DropCapability: [4, 4],
  Environment: [4, 4], EnvironmentFile: [4, 4], EnvironmentHost: [4, 4], Exec: [4, 4], ExposeHostPort: [4, 4],
  Group: [4, 4], Image: [4, 4], Label: [4, 4], Network: [4, 4], NoNewPrivileges: [4, 4], Notify: [4, 4],
  PodmanArgs: [4, 4], PublishPort: [4, 4], ReadOnly: [4, 4], RunInit: [4, 4], SeccompProfile: [4, 4],
  Timezone: [4, 4], User: [4, 4], Volume: [4, 4], IP: [4, 4],
  HealthCmd: [4, 5], HealthInterval: [4, 5], HealthOnFailure: [4, 5], HealthRetries: [4, 5],
  HealthStartPeriod: [4, 5], HealthTimeout: [4, 5], Mount: [4, 5], Tmpfs: [4, 5], LogDriver: [4, 5], Secret: [4, 5],
  HostName: [4, 6], Pull: [4, 6], Sysctl: [4, 6], WorkingDir: [4, 6], AutoUpdate: [4, 6],
  PidsLimit: [4, 7], ShmSize: [4, 7], Ulimit: [4, 7], DNS: [4, 7],
  ReadOnlyTmpfs: [4, 8], GlobalArgs: [4, 8],
  Entrypoint: [5, 0], Pod: [5, 0], StopTimeout: [5, 0],
  GroupAdd: [5, 1],
  LogOpt: [5, 2], NetworkAlias: [5, 2], StopSignal: [5, 2],
  AddHost: [5, 3], ServiceName: [5, 3], HealthLogDestination: [5, 3],
  Memory: [5, 5], ReloadCmd: [5, 5], ReloadSignal: [5, 5], Retry: [5, 5], RetryDelay: [5, 5],
};

export const BUILD_KEY_SINCE: Record<string, Version> = {
  Annotation: [5, 2], Arch: [5, 2], AuthFile: [5, 2], Environment: [5, 2], File: [5, 2], ForceRM: [5, 2],
  ImageTag: [5, 2], Label: [5, 2], Network: [5, 2], PodmanArgs: [5, 2], Pull: [5, 2],
  SetWorkingDirectory: [5, 2], Target: [5, 2], Volume: [5, 2],
  ServiceName: [5, 3], Retry: [5, 5], RetryDelay: [5, 5], BuildArg: [5, 7], IgnoreFile: [5, 7],
};

export const NETWORK_KEY_SINCE: Record<string, Version> = {
  DisableDNS: [4, 4], Driver: [4, 4], Gateway: [4, 4], IPAMDriver: [4, 4], IPRange: [4, 4], IPv6: [4, 4],
  Internal: [4, 4], Label: [4, 4], Options: [4, 4], Subnet: [4, 4], PodmanArgs: [4, 6], DNS: [4, 7],
  NetworkName: [4, 7], ServiceName: [5, 3], NetworkDeleteOnStop: [5, 5], InterfaceName: [5, 6],
};

/** Features that are a value, not a key. */
export const FEATURE_SINCE: Record<string, Version> = {
  "Notify=healthy": [5, 0],
  "Image=<name>.build": [5, 2],
};

export const DEFAULT_PODMAN: Version = [5, 4];

export function parseVersion(s: string): Version | undefined {
  const m = /^(\d+)\.(\d+)(\.\d+)?$/.exec(s);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function atLeast(have: Version, need: Version): boolean {
  return have[0] > need[0] || (have[0] === need[0] && have[1] >= need[1]);
}

export const fmtVersion = (v: Version) => `${v[0]}.${v[1]}`;
