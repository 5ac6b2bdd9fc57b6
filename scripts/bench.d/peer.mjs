// node-oidc-provider with the configuration the benchmark compares against: in-memory
// storage (an uncapped map, below), the same clients, client_credentials, introspection, the code flow with RS256
// ID tokens, refresh rotation. Its development sign-in pages stand in for a login UI:
// they accept any name and check no password.
import Provider from 'oidc-provider';

// In-memory storage without a size cap. The quick-start adapter keeps at most 1,000
// entries and evicts the oldest: under load the codes and tokens push out the session the
// code-flow benchmark signs in with, and from then on every request fails. Expired
// entries are dropped when read.
const stores = new Map();
class MemoryAdapter {
  constructor(model) {
    this.model = model;
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }
  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    this.store.set(id, { payload, expiresAt });
    if (payload.grantId) grants.set(payload.grantId, [...(grants.get(payload.grantId) || []), [this.model, id]]);
    if (payload.uid) uids.set(payload.uid, id);
    if (payload.userCode) userCodes.set(payload.userCode, id);
  }
  async find(id) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt < Date.now()) { this.store.delete(id); return undefined; }
    return entry.payload;
  }
  async findByUid(uid) { const id = uids.get(uid); return id && this.find(id); }
  async findByUserCode(code) { const id = userCodes.get(code); return id && this.find(id); }
  async consume(id) { const entry = this.store.get(id); if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { this.store.delete(id); }
  async revokeByGrantId(grantId) {
    for (const [model, id] of grants.get(grantId) || []) stores.get(model)?.delete(id);
    grants.delete(grantId);
  }
}
const grants = new Map();
const uids = new Map();
const userCodes = new Map();

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
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
