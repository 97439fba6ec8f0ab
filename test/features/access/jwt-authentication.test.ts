import { firebaseIssuer, JwtAuthentication, JwtAuthenticationProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: JwtAuthenticationProps = {
  name: 'user',
  namespace: 'pushnchat',
  selector: { 'app.kubernetes.io/name': 'user' },
  issuer: firebaseIssuer('pushnchat-prod'),
};

function render(props: Partial<JwtAuthenticationProps> = {}) {
  const chart = testChart();
  new JwtAuthentication(chart, 'jwt', { ...base, ...props });
  return chart;
}

describe('JwtAuthentication', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('validates Firebase ID tokens of the project', () => {
    expect(only(render(), 'RequestAuthentication').spec).toEqual({
      selector: { matchLabels: { 'app.kubernetes.io/name': 'user' } },
      jwtRules: [
        {
          issuer: 'https://securetoken.google.com/pushnchat-prod',
          audiences: ['pushnchat-prod'],
          // The CRD's field name (the proto name); Istio accepts it and the strict schema knows only it.
          jwks_uri: 'https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com',
          forwardOriginalToken: true,
        },
      ],
    });
  });

  test('denies requests without a valid token, except on public paths', () => {
    const deny = only(render({ publicPaths: ['/health/*'] }), 'AuthorizationPolicy');
    expect(deny.metadata.name).toBe('user-require-jwt');
    expect(deny.spec).toEqual({
      selector: { matchLabels: { 'app.kubernetes.io/name': 'user' } },
      action: 'DENY',
      rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }], to: [{ operation: { notPaths: ['/health/*'] } }] }],
    });
    expect(only(render(), 'AuthorizationPolicy').spec.rules).toEqual([{ from: [{ source: { notRequestPrincipals: ['*'] } }] }]);
  });

  test('fails when no audience is given', () => {
    expect(() => render({ issuer: { ...firebaseIssuer('p'), audiences: [] } })).toThrow(
      "JwtAuthentication 'jwt': audiences must not be empty: without them any token of the issuer is accepted",
    );
  });

  test('required claims: a request whose token lacks one of the values is denied', () => {
    const rules = only(render({ requiredClaims: { email: ['queue@p.iam.gserviceaccount.com'] } }), 'AuthorizationPolicy').spec.rules;
    expect(rules).toEqual([
      { from: [{ source: { notRequestPrincipals: ['*'] } }] },
      { when: [{ key: 'request.auth.claims[email]', notValues: ['queue@p.iam.gserviceaccount.com'] }] },
    ]);
  });

  test('fails when a required claim accepts no value', () => {
    expect(() => render({ requiredClaims: { email: [] } })).toThrow(
      "JwtAuthentication 'jwt': requiredClaims.email must not be empty: no token could be accepted",
    );
  });
});
