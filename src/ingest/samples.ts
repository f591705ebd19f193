/**
 * Realistic sample callbacks for `im-bridge send-sample` (and tests). The first one is Tencent's own
 * documented sample for Group.CallbackAfterSendMsg; the others follow the field shapes of
 * /work/shared/reference/tencent-im-callbacks.md §9 and §7 with invented values.
 *
 * `query` holds the per-callback URL parameters besides SdkAppid and CallbackCommand (which the
 * sender fills in from its config and `command`): contenttype, ClientIP, OptPlatform.
 */
export interface SampleCallback {
  name: string;
  command: string;
  query?: Record<string, string>;
  body: Record<string, unknown>;
}

export const SAMPLE_CALLBACKS: ReadonlyArray<SampleCallback> = [
  {
    name: 'group-after-send-msg-tencent-doc',
    command: 'Group.CallbackAfterSendMsg',
    query: { contenttype: 'json', ClientIP: '203.0.113.7', OptPlatform: 'Android' },
    body: {
      CallbackCommand: 'Group.CallbackAfterSendMsg',
      GroupId: '@TGS#2J4SZEAEL',
      Type: 'Public',
      From_Account: 'jared',
      Operator_Account: 'admin',
      Random: 2010324,
      MsgSeq: 123,
      MsgTime: 1490686222,
      OnlineOnlyFlag: 0,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'red packet' } }],
      CloudCustomData: 'your cloud custom data',
      EventTime: '1670574414123',
    },
  },
  {
    name: 'group-community-topic-text-custom',
    command: 'Group.CallbackAfterSendMsg',
    query: { contenttype: 'json', ClientIP: '198.51.100.23', OptPlatform: 'iOS' },
    body: {
      CallbackCommand: 'Group.CallbackAfterSendMsg',
      GroupId: '@TGS#_mkt-guild',
      Type: 'Community',
      From_Account: 'u_lina',
      Operator_Account: 'u_lina',
      Random: 3021458832,
      MsgId: '144115212345678901-1767225600-3021458832',
      MsgSeq: 5812,
      MsgTime: 1767225600,
      OnlineOnlyFlag: 0,
      MsgBody: [
        { MsgType: 'TIMTextElem', MsgContent: { Text: 'Launch review moved to 15:00' } },
        {
          MsgType: 'TIMCustomElem',
          MsgContent: { Data: '{"kind":"poll","pollId":"p-77"}', Desc: '[Poll]', Ext: '', Sound: '' },
        },
      ],
      CloudCustomData: '{"replyTo":"5809"}',
      TopicId: '@TGS#_@TGS#_mkt-guild@TOPIC#_planning',
      EventTime: '1767225600431',
    },
  },
  {
    name: 'c2c-after-send-image',
    command: 'C2C.CallbackAfterSendMsg',
    query: { contenttype: 'json', ClientIP: '198.51.100.40', OptPlatform: 'Android' },
    body: {
      CallbackCommand: 'C2C.CallbackAfterSendMsg',
      From_Account: 'u_omar',
      To_Account: 'u_sara',
      MsgSeq: 90211,
      MsgRandom: 1748820093,
      MsgTime: 1767225712,
      MsgKey: '90211_1748820093_1767225712',
      MsgId: '144115298765432109-1767225712-1748820093',
      OnlineOnlyFlag: 0,
      SendMsgResult: 0,
      ErrorInfo: 'send msg succeed',
      UnreadMsgNum: 3,
      MsgBody: [
        {
          MsgType: 'TIMImageElem',
          MsgContent: {
            UUID: '48211_5f3c2a9d0be14f6aa1d2c3e4f5a6b7c8',
            ImageFormat: 3,
            ImageInfoArray: [
              { Type: 1, Size: 482110, Width: 1440, Height: 1920, URL: 'https://cos.example.invalid/img/5f3c2a9d/0' },
              { Type: 2, Size: 120044, Width: 0, Height: 0, URL: 'https://cos.example.invalid/img/5f3c2a9d/720' },
              { Type: 3, Size: 9315, Width: 0, Height: 0, URL: 'https://cos.example.invalid/img/5f3c2a9d/198' },
            ],
          },
        },
      ],
      CloudCustomData: '',
      EventTime: 1767225712208,
    },
  },
  {
    name: 'group-work-video-location-restapi',
    command: 'Group.CallbackAfterSendMsg',
    query: { contenttype: 'json', ClientIP: '10.0.0.12', OptPlatform: 'RESTAPI' },
    body: {
      CallbackCommand: 'Group.CallbackAfterSendMsg',
      GroupId: '@TGS#2QH7KF3NX',
      Type: 'Private',
      From_Account: 'ops_bot',
      Operator_Account: 'administrator',
      Random: 66120457,
      MsgSeq: 214,
      MsgTime: 1767226001,
      OnlineOnlyFlag: 0,
      MsgBody: [
        {
          MsgType: 'TIMVideoFileElem',
          MsgContent: {
            VideoUrl: 'https://cos.example.invalid/v/9a1b.mp4',
            VideoUUID: '9a1b7c2d3e4f50617283949a0b1c2d3e',
            VideoSize: 2310044,
            VideoSecond: 12,
            VideoFormat: 'mp4',
            VideoDownloadFlag: 2,
            ThumbUrl: 'https://cos.example.invalid/v/9a1b.jpg',
            ThumbUUID: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
            ThumbSize: 20188,
            ThumbWidth: 720,
            ThumbHeight: 1280,
            ThumbFormat: 'JPG',
            ThumbDownloadFlag: 2,
          },
        },
        {
          MsgType: 'TIMLocationElem',
          MsgContent: { Desc: 'Warehouse gate 4', Latitude: 22.5431, Longitude: 114.0579 },
        },
      ],
      CloudCustomData: '',
      EventTime: '1767226001077',
    },
  },
  {
    name: 'state-change-login-ios',
    command: 'State.StateChange',
    query: { contenttype: 'json', ClientIP: '192.0.2.44', OptPlatform: 'IOS' },
    body: {
      CallbackCommand: 'State.StateChange',
      EventTime: 1767226300552,
      Info: { Action: 'Login', To_Account: 'u_sara', Reason: 'Register' },
      KickedDevice: [{ Platform: 'Android' }],
    },
  },
  {
    name: 'group-member-exit-kicked',
    command: 'Group.CallbackAfterMemberExit',
    query: { contenttype: 'json', ClientIP: '198.51.100.61', OptPlatform: 'Web' },
    body: {
      CallbackCommand: 'Group.CallbackAfterMemberExit',
      GroupId: '@TGS#3LZP0QW8K',
      Type: 'Public',
      ExitType: 'Kicked',
      Operator_Account: 'u_owner_kai',
      ExitMemberList: [{ Member_Account: 'u_spam_81' }, { Member_Account: 'u_spam_82' }],
      EventTime: '1767226420019',
    },
  },
  {
    name: 'group-new-member-join',
    command: 'Group.CallbackAfterNewMemberJoin',
    query: { contenttype: 'json', ClientIP: '198.51.100.62', OptPlatform: 'Android' },
    body: {
      CallbackCommand: 'Group.CallbackAfterNewMemberJoin',
      GroupId: '@TGS#3LZP0QW8K',
      Type: 'Public',
      JoinType: 'Apply',
      Operator_Account: 'u_owner_kai',
      NewMemberList: [{ Member_Account: 'u_mei' }, { Member_Account: 'u_tomas' }],
      EventTime: 1767226500120,
    },
  },
  {
    name: 'group-destroyed',
    command: 'Group.CallbackAfterGroupDestroyed',
    query: { contenttype: 'json', ClientIP: '198.51.100.63', OptPlatform: 'Windows' },
    body: {
      CallbackCommand: 'Group.CallbackAfterGroupDestroyed',
      GroupId: '@TGS#1NVTZEAE4',
      Type: 'ChatRoom',
      Owner_Account: 'u_owner_kai',
      Name: 'Weekly sync',
      MemberList: [{ Member_Account: 'u_owner_kai' }, { Member_Account: 'u_mei' }, { Member_Account: 'u_lina' }],
      EventTime: '1767226600000',
    },
  },
  {
    name: 'group-recall',
    command: 'Group.CallbackAfterRecallMsg',
    query: { contenttype: 'json', ClientIP: '198.51.100.64', OptPlatform: 'Mac' },
    body: {
      CallbackCommand: 'Group.CallbackAfterRecallMsg',
      Operator_Account: 'u_lina',
      Type: 'Community',
      GroupId: '@TGS#_mkt-guild',
      MsgSeqList: [{ MsgSeq: 5812 }, { MsgSeq: 5813 }],
      TopicId: '@TGS#_@TGS#_mkt-guild@TOPIC#_planning',
      EventTime: 1767226700333,
    },
  },
  {
    name: 'sns-friend-add',
    command: 'Sns.CallbackFriendAdd',
    query: { contenttype: 'json', ClientIP: '198.51.100.65', OptPlatform: 'iOS' },
    body: {
      CallbackCommand: 'Sns.CallbackFriendAdd',
      PairList: [
        { From_Account: 'u_mei', To_Account: 'u_tomas', Initiator_Account: 'u_mei' },
        { From_Account: 'u_tomas', To_Account: 'u_mei', Initiator_Account: 'u_mei' },
      ],
      ClientCmd: 'friend_add',
      Admin_Account: '',
      ForceFlag: 0,
      EventTime: 1767226800456,
    },
  },
  {
    name: 'push-offline-push-results',
    command: 'Push.OfflinePush',
    query: { contenttype: 'json' },
    body: {
      Events: [
        {
          CallbackCommand: 'Push.OfflinePush',
          EventType: 1,
          EventTime: 1767226900,
          From_Account: 'u_omar',
          To_Account: 'u_sara',
          PushPlatform: 1,
          PushStage: 2,
          MsgKey: '90212_1748820111_1767226899',
        },
        {
          CallbackCommand: 'Push.OfflinePush',
          EventType: 1,
          EventTime: 1767226901,
          From_Account: 'u_omar',
          To_Account: 'u_mei',
          PushPlatform: 2,
          PushStage: 2,
          MsgKey: '90213_1748820112_1767226900',
        },
      ],
    },
  },
  {
    name: 'unknown-alert-request-over-limit',
    command: 'Alert.RequestOverLimit',
    query: { contenttype: 'json' },
    body: {
      CallbackCommand: 'Alert.RequestOverLimit',
      RequestUrl: 'v4/group_open_http_svc/send_group_msg',
      Limit: 200,
      RequestCount: 233,
      EventTime: 1767227000000,
    },
  },
];
