// Encode a Multipass token with npm's multipassify: node multipass_encode.js SECRET '{"email": ...}'
const Multipassify = require("multipassify");

const [secret, json] = process.argv.slice(2);
process.stdout.write(new Multipassify(secret).encode(JSON.parse(json)));
