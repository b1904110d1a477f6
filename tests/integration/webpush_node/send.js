// A real Web Push application server for webpush_node_test.cc: npm's
// `web-push` (installed by run.sh) encrypts (RFC 8291, aes128gcm) and signs
// (RFC 8292 VAPID) a notification exactly as it would for any push service;
// this script sends it to a postbox endpoint and prints the response as JSON:
// over plain HTTP from web-push's request details, or, for an https://
// endpoint, through web-push's own sendNotification() (which always speaks
// https; the test's CA reaches node through NODE_EXTRA_CA_CERTS).
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
  if (args.endpoint.startsWith('https://')) {
    sendNotification(subscription, Buffer.from(args.payload, 'base64'), options);
    return;
  }
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

function print(status, headers, body) {
  process.stdout.write(JSON.stringify({
    status: status,
    location: headers.location || '',
    ttl: headers.ttl || '',
    body: body || '',
  }) + '\n');
}

// web-push's own transport: resolves for 2xx, rejects with a WebPushError
// (statusCode, headers, body) for any other answer.
function sendNotification(subscription, payload, options) {
  webPush.sendNotification(subscription, payload, options)
      .then((res) => print(res.statusCode, res.headers, res.body))
      .catch((e) => {
        if (e.statusCode) {
          print(e.statusCode, e.headers || {}, e.body);
        } else {
          process.stderr.write('request failed: ' + e.message + '\n');
          process.exit(2);
        }
      });
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
