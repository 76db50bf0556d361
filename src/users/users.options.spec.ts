import { UsersSettings, type UsersModuleSettings } from './users.options';

const repositoryOnly = { routes: false } as const;
const settings = (events: UsersModuleSettings['events']) => new UsersSettings({ database: { url: 'postgres://db/users' }, events }, repositoryOnly);

describe('UsersSettings: event brokers', () => {
  it('has no broker unless one is configured', () => {
    expect(settings({}).events).toMatchObject({ nats: null, amqp: null });
  });

  it('fills in the defaults of a configured broker', () => {
    const { nats, amqp } = settings({ nats: { url: 'nats://127.0.0.1:4222' }, amqp: { url: 'amqp://guest:guest@127.0.0.1:5672' } }).events;
    expect(nats).toEqual({ url: 'nats://127.0.0.1:4222', subjectPrefix: 'users.events', stream: 'USERS_EVENTS', createStream: true });
    expect(amqp).toEqual({ url: 'amqp://guest:guest@127.0.0.1:5672', exchange: 'users.events' });
  });

  it.each([
    ['events.nats.url', { nats: { url: 'http://nats:4222' } }],
    ['events.nats.url', { nats: {} as { url: string } }],
    ['events.nats.subjectPrefix', { nats: { url: 'nats://nats', subjectPrefix: 'users.*' } }],
    ['events.nats.subjectPrefix', { nats: { url: 'nats://nats', subjectPrefix: 'users..events' } }],
    ['events.nats.stream', { nats: { url: 'nats://nats', stream: 'USERS.EVENTS' } }],
    ['events.nats.createStream', { nats: { url: 'nats://nats', createStream: 'yes' as unknown as boolean } }],
    ['events.amqp.url', { amqp: { url: 'rabbit:5672' } }],
    ['events.amqp.exchange', { amqp: { url: 'amqp://rabbit', exchange: 'amq.topic' } }],
  ])('refuses a bad %s', (option, events) => {
    expect(() => settings(events)).toThrow(`option ${option} must be`);
  });
});
