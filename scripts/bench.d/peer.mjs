// node-oidc-provider with the configuration the benchmark compares against: in-memory
// storage, the same clients, client_credentials, introspection, the code flow with RS256
// ID tokens, refresh rotation. Its development sign-in pages stand in for a login UI:
// they accept any name and check no password.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-cc',
      client_secret: 'bench-cc-secret-0123456789abcdef',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'api',
    },
    {
      client_id: 'bench-rp',
      client_secret: 'bench-rp-secret-0123456789abcdef',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'],
      scope: 'openid profile',
    },
    // Refresh tokens come from a client of their own, so that the code flow above does
    // not issue them (Portcullis issues them only for offline_access).
    {
      client_id: 'bench-offline',
      client_secret: 'bench-rp-secret-0123456789abcdef',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'],
      scope: 'openid offline_access',
    },
  ],
  scopes: ['openid', 'profile', 'offline_access', 'api'],
  pkce: { required: () => false },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:bench:api',
      getResourceServerInfo: () => ({ scope: 'api', accessTokenFormat: 'opaque' }),
      useGrantedResource: () => false,
    },
  },
});
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
