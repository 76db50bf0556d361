import { UsersSettings, type UsersModuleSettings } from '../../users.options';

// events.webhooks of the module's options, checked once at startup.
describe('UsersSettings: events.webhooks', () => {
  const secret = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;
  const settings = (webhooks: NonNullable<UsersModuleSettings['events']>['webhooks'], events: UsersModuleSettings['events'] = {}) =>
    new UsersSettings({ database: { url: 'postgres://127.0.0.1/none' }, jwt: { secret: 'x'.repeat(32) }, events: { ...events, webhooks } }, {});

  it('defaults to an empty allow-list and no environment subscription', () => {
    expect(settings(undefined).events.webhooks).toEqual({ allowedHosts: [] });
  });

  it('takes a subscription whose host the allow-list covers', () => {
    expect(settings({ allowedHosts: ['*.example.com'], url: 'https://hooks.example.com/in', secret, types: ['user.created', 'user.created'] }).events.webhooks).toEqual({
      allowedHosts: ['*.example.com'],
      env: { url: 'https://hooks.example.com/in', secret, types: ['user.created'] },
    });
  });

  it.each([
    [{ allowedHosts: ['not a host'] }, /events\.webhooks\.allowedHosts/],
    [{ allowedHosts: 'hooks.example.com' as unknown as string[] }, /events\.webhooks\.allowedHosts/],
    [{ url: 'https://hooks.example.com/in', secret }, /events\.webhooks\.url must be a URL the allow-list accepts: host hooks\.example\.com is not/],
    [{ allowedHosts: ['hooks.example.com'], secret }, /events\.webhooks\.url must be set/],
    [{ allowedHosts: ['hooks.example.com'], url: 'https://hooks.example.com/in', secret: 'plain-secret' }, /events\.webhooks\.secret must be a whsec_ secret/],
    [{ allowedHosts: ['hooks.example.com'], url: 'https://hooks.example.com/in', secret, types: [] }, /events\.webhooks\.types/],
    [{ allowedHosts: ['hooks.example.com'], url: 'https://hooks.example.com/in', secret, types: ['user.exploded'] }, /events\.webhooks\.types/],
  ])('refuses %j', (webhooks, message) => {
    expect(() => settings(webhooks)).toThrow(message);
  });

  it('never echoes the secret it refuses', () => {
    expect(() => settings({ allowedHosts: ['hooks.example.com'], url: 'https://hooks.example.com/in', secret: 'whsec_c2hvcnQ=' })).toThrow(/^(?!.*c2hvcnQ)/);
  });
});
