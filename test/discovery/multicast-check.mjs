// Proves multicast works where it runs (inside the test's namespace): one
// socket joins 224.0.0.251 on a private port, another sends to it. Prints
// "multicast ok" or why not, and exits 1 when it does not work.
import dgram from 'node:dgram';

const PORT = 5399;
const receiver = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const fail = (why) => {
  console.log(`multicast does not work here: ${why}`);
  process.exit(1);
};
setTimeout(() => fail('nothing received within 2 s'), 2000).unref();
receiver.on('message', (m) => {
  if (m.toString() === 'ge-multicast-check') {
    console.log('multicast ok');
    process.exit(0);
  }
});
receiver.bind(PORT, '0.0.0.0', () => {
  try {
    receiver.addMembership('224.0.0.251', '127.0.0.1');
  } catch (e) {
    fail(`addMembership: ${e.code ?? e.message}`);
  }
  const sender = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  sender.bind(0, () => {
    sender.setMulticastLoopback(true);
    sender.send('ge-multicast-check', PORT, '224.0.0.251', (e) => e && fail(`send: ${e.code}`));
  });
});
setInterval(() => {}, 1000);
