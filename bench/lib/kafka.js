// Kafka helpers for the bench cases: one admin client, topics created for this run (deleted at the
// end by closeKafka), the record count of a topic, the broker's pid (to watch its CPU).
import { Kafka, logLevel } from 'kafkajs';
import { findPids } from './proc.js';
import { kafkaBrokers } from './util.js';

export const BROKERS = kafkaBrokers();

let admin;
const createdTopics = [];

export async function kafkaAdmin() {
  if (admin) return admin;
  const kafka = new Kafka({ clientId: 'im-bridge-bench', brokers: BROKERS, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 2 } });
  const a = kafka.admin();
  await a.connect();
  admin = a;
  return admin;
}

/** { ok: true } once the admin client is connected, else { ok: false, reason } (cases needing Kafka are then unavailable). */
export async function kafkaReachable() {
  try {
    await kafkaAdmin();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `Kafka at ${BROKERS.join(',')} not reachable (${e.message}); start it with npm run services:up` };
  }
}

export async function createTopic(name) {
  await (await kafkaAdmin()).createTopics({ topics: [{ topic: name, numPartitions: 6 }], waitForLeaders: true });
  createdTopics.push(name);
}

export async function topicCount(topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

export function brokerPid() {
  return findPids(/kafka\.Kafka/)[0];
}

export async function closeKafka() {
  if (!admin) return;
  if (createdTopics.length) await admin.deleteTopics({ topics: createdTopics }).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
}
