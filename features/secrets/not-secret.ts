/** Pod template annotation listing the env variables a spec marked as deliberately not secret (`notSecret`); validate reads it. */
export const NOT_SECRET_ANNOTATION = 'meridian.dev/not-secret';
