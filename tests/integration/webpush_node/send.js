// A real Web Push application server for webpush_node_test.cc: npm's
// `web-push` (installed by run.sh) encrypts (RFC 8291, aes128gcm) and signs
// (RFC 8292 VAPID) a notification exactly as it would for any push service;
// this script sends it to a postbox endpoint over plain HTTP (web-push's own
// sendNotification always speaks https) and prints the response as JSON.
//
//   node send.js vapid-keys        -> {"publicKey":"...","privateKey":"..."}
//   node send.js send '<json>'     -> {"status":201,"location":"...","ttl":"..."}
//     json: {endpoint, p256dh, auth, vapidPublic, vapidPrivate,
//            payload (base64), ttl, topic?, urgency?}
'use strict';
const http = require('http');
const webPush = require('web-push');

function send(args) {
  const subscription = {endpoint: args.endpoint, keys: {p256dh: args.p256dh, auth: args.auth}};
  const options = {
    TTL: args.ttl,
    vapidDetails: {
      subject: 'mailto:ops@example.com',
      publicKey: args.vapidPublic,
      privateKey: args.vapidPrivate,
    },
  };
  if (args.topic) options.topic = args.topic;
  if (args.urgency) options.urgency = args.urgency;
  const details =
      webPush.generateRequestDetails(subscription, Buffer.from(args.payload, 'base64'), options);
  const url = new URL(details.endpoint);
  const req = http.request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: details.method,
    headers: details.headers,
  }, (res) => {
    let body = '';
    res.on('data', (chunk) => { body += chunk; });
    res.on('end', () => {
      process.stdout.write(JSON.stringify({
        status: res.statusCode,
        location: res.headers.location || '',
        ttl: res.headers.ttl || '',
        body: body,
      }) + '\n');
    });
  });
  req.on('error', (e) => {
    process.stderr.write('request failed: ' + e.message + '\n');
    process.exit(2);
  });
  req.end(details.body);
}

const [command, json] = process.argv.slice(2);
if (command === 'vapid-keys') {
  process.stdout.write(JSON.stringify(webPush.generateVAPIDKeys()) + '\n');
} else if (command === 'send') {
  send(JSON.parse(json));
} else {
  process.stderr.write('usage: node send.js vapid-keys | send <json>\n');
  process.exit(64);
}
