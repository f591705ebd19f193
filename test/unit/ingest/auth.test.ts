import t from 'tap';
import fc from 'fast-check';
import { Authenticator, signature } from '../../../src/ingest/auth.js';

const NOW_S = 1767225600;
const now = () => NOW_S * 1000;

t.test('signature matches Tencent’s published example and ours', async (t) => {
  t.equal(signature('xxxxyyyy', '1669872112'), '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061');
  t.equal(signature('s3cr3t-demo-token', '1767225600'), '61a07a5333884cd859caa32f78547806c8d8edbcbbf897bbeb02ae7534f9c35a');
});

t.test('check order and answers', async (t) => {
  const auth = new Authenticator([{ sdk_app_id: '1400000000', token: 'tok', previous_tokens: ['old'] }, { sdk_app_id: 1400000001 }], 60_000, now);
  const rt = String(NOW_S);
  t.equal(auth.check('1400000000', signature('tok', rt), rt, '1.2.3.4'), undefined, 'good Sign');
  t.equal(auth.check('1400000000', signature('tok', rt).toUpperCase(), rt, '1.2.3.4'), undefined, 'Sign compared case-insensitively');
  t.equal(auth.check('1400000000', signature('old', rt), rt, '1.2.3.4'), undefined, 'previous token accepted during rotation');
  t.equal(auth.check('1400000000', signature('wrong', rt), rt, '1.2.3.4')?.code, 'SIGN_INVALID');
  t.equal(auth.check('1400000000', 'zz', rt, '1.2.3.4')?.code, 'SIGN_INVALID', 'malformed Sign');
  t.equal(auth.check('1400000000', undefined, rt, '1.2.3.4')?.code, 'SIGN_MISSING');
  t.equal(auth.check('1400000000', signature('tok', rt), undefined, '1.2.3.4')?.code, 'SIGN_MISSING');
  const off = String(NOW_S - 600);
  t.equal(auth.check('1400000000', signature('tok', off), off, '1.2.3.4')?.code, 'REQUEST_TIME_OUT_OF_WINDOW', '10 minutes off');
  const edge = String(NOW_S - 60);
  t.equal(auth.check('1400000000', signature('tok', edge), edge, '1.2.3.4'), undefined, 'exactly at the window edge');
  t.equal(auth.check('1400000000', signature('tok', '1e9'), '1e9', '1.2.3.4')?.code, 'REQUEST_TIME_INVALID');
  t.equal(auth.check('1400000999', undefined, undefined, '1.2.3.4')?.code, 'APP_UNKNOWN');
  t.equal(auth.check(undefined, undefined, undefined, '1.2.3.4')?.code, 'APP_MISSING');
  t.equal(auth.check('1400000001', undefined, undefined, '1.2.3.4'), undefined, 'an app without token needs no Sign');
});

t.test('allow_ips with addresses and CIDRs', async (t) => {
  const auth = new Authenticator([{ sdk_app_id: '1', allow_ips: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32'] }], 60_000, now);
  t.equal(auth.check('1', undefined, undefined, '10.1.2.3'), undefined);
  t.equal(auth.check('1', undefined, undefined, '::ffff:10.1.2.3'), undefined, 'v4-mapped v6');
  t.equal(auth.check('1', undefined, undefined, '192.0.2.7'), undefined);
  t.equal(auth.check('1', undefined, undefined, '2001:db8::1'), undefined);
  t.equal(auth.check('1', undefined, undefined, '192.0.2.8')?.code, 'IP_NOT_ALLOWED');
  t.equal(auth.check('1', undefined, undefined, 'garbage')?.code, 'IP_NOT_ALLOWED');
});

t.test('property: only the right token at a time inside the window passes', async () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 128 }), fc.string({ minLength: 1, maxLength: 128 }), fc.integer({ min: -600, max: 600 }), (token, other, skew) => {
      const auth = new Authenticator([{ sdk_app_id: '7', token }], 60_000, now);
      const rt = String(NOW_S + skew);
      const good = auth.check('7', signature(token, rt), rt, '1.1.1.1');
      if (Math.abs(skew) <= 60) {
        if (good !== undefined) throw new Error('valid signature rejected');
      } else if (good?.code !== 'REQUEST_TIME_OUT_OF_WINDOW') throw new Error('out-of-window accepted');
      if (other !== token && Math.abs(skew) <= 60 && auth.check('7', signature(other, rt), rt, '1.1.1.1') === undefined) {
        throw new Error('foreign token accepted');
      }
    }),
    { numRuns: 300 },
  );
});
