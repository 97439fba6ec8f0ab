export * from './autoscaler';
export * from './ingress-gateway';
export * from './mesh-namespace';
export * from './mesh-routing';
export * from './microservice';
export * from './redis-sentinel';
export * from './secret-sync';
export * from './units';
