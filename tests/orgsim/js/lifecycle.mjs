// The billing-transfer lifecycle and its error cases, driven by the AWS SDK for JavaScript v3
// (an implementation of the JSON 1.1 protocol independent of botocore) against a running orgsim.
// Run by tests/orgsim/test_js_sdk.py: ORGSIM_ENDPOINT, PAYER and SOURCE (12-digit account ids
// with no organization yet) come from the environment. Exits non-zero on the first failed check.
import assert from "node:assert/strict";
import {
  AcceptHandshakeCommand,
  CreateOrganizationCommand,
  DescribeHandshakeCommand,
  DescribeResponsibilityTransferCommand,
  InviteOrganizationToTransferResponsibilityCommand,
  ListHandshakesForAccountCommand,
  ListInboundResponsibilityTransfersCommand,
  ListOutboundResponsibilityTransfersCommand,
  OrganizationsClient,
  TerminateResponsibilityTransferCommand,
  UpdateResponsibilityTransferCommand,
} from "@aws-sdk/client-organizations";

const endpoint = process.env.ORGSIM_ENDPOINT;
const payerId = process.env.PAYER;
const sourceId = process.env.SOURCE;
assert.ok(endpoint && payerId && sourceId, "ORGSIM_ENDPOINT, PAYER and SOURCE must be set");

let checks = 0;
const check = (fn) => {
  fn();
  checks += 1;
};

// The access key id is the orgsim account; the secret is not checked. No retries: errors are the point.
const client = (accountId) =>
  new OrganizationsClient({
    endpoint,
    region: "us-east-1",
    maxAttempts: 1,
    credentials: { accessKeyId: accountId, secretAccessKey: "orgsim-secret" },
  });

const payer = client(payerId);
const source = client(sourceId);

async function send(who, command) {
  const answer = await who.send(command);
  check(() => assert.match(answer.$metadata.requestId, /^[0-9a-f-]{36}$/));
  check(() => assert.equal(answer.$metadata.httpStatusCode, 200));
  return answer;
}

// The typed error the SDK raises: its class name, the model's Reason, the request id, the status.
async function fails(who, command, name, reason) {
  try {
    await who.send(command);
  } catch (err) {
    check(() => assert.equal(err.name, name, `${command.constructor.name}: ${err.name} ${err.message}`));
    check(() => assert.equal(err.$fault, "client"));
    check(() => assert.equal(err.$metadata.httpStatusCode, 400));
    check(() => assert.match(err.$metadata.requestId, /^[0-9a-f-]{36}$/));
    check(() => assert.ok(err.message.length > 0));
    if (reason !== undefined) check(() => assert.equal(err.Reason, reason));
    return err;
  }
  assert.fail(`${command.constructor.name} should have failed with ${name}`);
}

// The first month start at least two days ahead (a transfer starts at 00:00 UTC on the 1st, with
// at least 24 hours left to accept).
function nextStart(now = new Date()) {
  let start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  if (start.getTime() - now.getTime() < 2 * 86400 * 1000) {
    start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1));
  }
  return start;
}

const payerOrg = (await send(payer, new CreateOrganizationCommand({ FeatureSet: "ALL" }))).Organization;
const sourceOrg = (await send(source, new CreateOrganizationCommand({ FeatureSet: "ALL" }))).Organization;
check(() => assert.equal(payerOrg.MasterAccountId, payerId));

const start = nextStart();
const invite = (extra = {}) =>
  new InviteOrganizationToTransferResponsibilityCommand({
    Type: "BILLING",
    Target: { Id: sourceId, Type: "ACCOUNT" },
    StartTimestamp: start,
    SourceName: "Source from JS",
    Notes: "Sent by the AWS SDK for JavaScript",
    ...extra,
  });

// Errors before anything exists.
await fails(
  payer,
  invite({ Target: { Id: payerId, Type: "ACCOUNT" } }),
  "HandshakeConstraintViolationException",
  "SOURCE_AND_TARGET_CANNOT_MATCH",
);
await fails(
  payer,
  invite({ StartTimestamp: new Date(start.getTime() + 86400 * 1000) }),
  "InvalidInputException",
  "START_DATE_NOT_BEGINNING_OF_MONTH",
);
await fails(
  payer,
  new DescribeResponsibilityTransferCommand({ Id: "rt-0123456789ab" }),
  "ResponsibilityTransferNotFoundException",
);

// Invite: a TRANSFER_RESPONSIBILITY handshake, dates as Date objects.
const sent = (await send(payer, invite())).Handshake;
check(() => assert.equal(sent.Action, "TRANSFER_RESPONSIBILITY"));
check(() => assert.equal(sent.State, "OPEN"));
check(() => assert.ok(sent.RequestedTimestamp instanceof Date));
check(() => assert.ok(sent.ExpirationTimestamp instanceof Date));
check(() => assert.ok(sent.ExpirationTimestamp < start));
const transferId = sent.Resources.find((r) => r.Type === "RESPONSIBILITY_TRANSFER").Value;
await fails(payer, invite(), "DuplicateHandshakeException");

// The invited side sees it, and the transfer is REQUESTED on both sides.
const received = (await send(source, new ListHandshakesForAccountCommand({}))).Handshakes;
check(() => assert.deepEqual(received.map((h) => h.Id), [sent.Id]));
const requested = (await send(payer, new DescribeResponsibilityTransferCommand({ Id: transferId })))
  .ResponsibilityTransfer;
check(() => assert.equal(requested.Status, "REQUESTED"));
check(() => assert.ok(requested.StartTimestamp instanceof Date));
check(() => assert.equal(requested.StartTimestamp.getTime(), start.getTime()));

// Only the recipient accepts.
await fails(payer, new AcceptHandshakeCommand({ HandshakeId: sent.Id }), "AccessDeniedException");
const accepted = (await send(source, new AcceptHandshakeCommand({ HandshakeId: sent.Id }))).Handshake;
check(() => assert.equal(accepted.State, "ACCEPTED"));
await fails(source, new AcceptHandshakeCommand({ HandshakeId: sent.Id }), "HandshakeAlreadyInStateException");
const described = (await send(source, new DescribeHandshakeCommand({ HandshakeId: sent.Id }))).Handshake;
check(() => assert.equal(described.State, "ACCEPTED"));

const inbound = (await send(payer, new ListInboundResponsibilityTransfersCommand({ Type: "BILLING" })))
  .ResponsibilityTransfers;
check(() => assert.deepEqual(inbound.map((t) => [t.Id, t.Status]), [[transferId, "ACCEPTED"]]));
const outbound = (await send(source, new ListOutboundResponsibilityTransfersCommand({ Type: "BILLING" })))
  .ResponsibilityTransfers;
check(() => assert.deepEqual(outbound.map((t) => t.Id), [transferId]));
check(() => assert.match(outbound[0].Arn, /:transfer\/o-[a-z0-9]+\/billing\/outbound\/rt-/));

// Rename, then terminate (by the source) at the end of this month; terminating twice fails.
const renamed = (await send(payer, new UpdateResponsibilityTransferCommand({ Id: transferId, Name: "Renamed in JS" })))
  .ResponsibilityTransfer;
check(() => assert.equal(renamed.Name, "Renamed in JS"));
const ended = (await send(source, new TerminateResponsibilityTransferCommand({ Id: transferId })))
  .ResponsibilityTransfer;
check(() => assert.equal(ended.Status, "WITHDRAWN"));
check(() => assert.ok(ended.EndTimestamp instanceof Date));
check(() => assert.equal(ended.EndTimestamp.getUTCSeconds(), 59));
await fails(
  payer,
  new TerminateResponsibilityTransferCommand({ Id: transferId }),
  "ResponsibilityTransferAlreadyInStatusException",
);
await fails(
  payer,
  new UpdateResponsibilityTransferCommand({ Id: transferId, Name: "Too late" }),
  "ConstraintViolationException",
  "TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED",
);

console.log(`lifecycle ok: ${checks} checks`);
