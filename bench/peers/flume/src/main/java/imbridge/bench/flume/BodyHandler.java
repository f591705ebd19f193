package imbridge.bench.flume;

import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import javax.servlet.http.HttpServletRequest;

import org.apache.flume.Context;
import org.apache.flume.Event;
import org.apache.flume.event.EventBuilder;
import org.apache.flume.source.http.HTTPBadRequestException;
import org.apache.flume.source.http.HTTPSourceHandler;

/**
 * HTTPSource handler for the im-bridge benchmark peer: the whole POST body (one Tencent IM callback, a JSON
 * object) becomes ONE Flume event, byte for byte; the query-string parameters (SdkAppid, CallbackCommand,
 * ClientIP, ...) become event headers. Flume's default JSONHandler wants a JSON array of Flume events
 * ([{"headers":{},"body":"..."}]), which is not what Tencent sends; with this handler Flume receives exactly
 * the request bodies im-bridge receives. (Flume's own BLOBHandler is close, but it reads the parameters with
 * getParameterMap(), which would also parse a form-encoded body; we only parse the query string.)
 *
 * The answer is left to HTTPSource: it calls ChannelProcessor.processEventBatch(events), i.e. one channel
 * transaction (put + commit) per request, and only then answers 200 (503 when the channel refuses, 400 for
 * the HTTPBadRequestException below). With FileChannel (fsyncPerTransaction=true, the default), commit()
 * appends a commit record and then fdatasyncs the data file unless a concurrent commit's fdatasync already
 * covered it (LogFile.Writer.sync(): force(false) when lastSyncPosition < lastCommitPosition): one
 * fdatasync per request, or fewer when requests commit at the same instant (measured: 846 fdatasync for
 * 1000 requests, 16 in flight). Every 200 means "on disk", the durability im-bridge gives before its answer.
 *
 * Configuration (agent.sources.SRC.handler.*): maxBytes (default 1048576) — larger bodies are refused (400).
 */
public class BodyHandler implements HTTPSourceHandler {
  private int maxBytes = 1 << 20;

  @Override
  public void configure(Context context) {
    maxBytes = context.getInteger("maxBytes", 1 << 20);
  }

  @Override
  public List<Event> getEvents(HttpServletRequest request) throws HTTPBadRequestException, IOException {
    int declared = request.getContentLength();
    if (declared > maxBytes) {
      throw new HTTPBadRequestException("body of " + declared + " bytes exceeds maxBytes " + maxBytes);
    }
    byte[] body;
    try (InputStream in = request.getInputStream()) {
      body = in.readNBytes(maxBytes + 1);
    }
    if (body.length > maxBytes) {
      throw new HTTPBadRequestException("body exceeds maxBytes " + maxBytes);
    }
    if (body.length == 0) {
      throw new HTTPBadRequestException("empty body");
    }
    return Collections.singletonList(EventBuilder.withBody(body, queryHeaders(request.getQueryString())));
  }

  /** a=1&b=2 -> {a: "1", b: "2"} (first value wins, as in BLOBHandler). */
  static Map<String, String> queryHeaders(String query) {
    Map<String, String> headers = new HashMap<>();
    if (query == null || query.isEmpty()) return headers;
    for (String pair : query.split("&")) {
      if (pair.isEmpty()) continue;
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      try {
        headers.putIfAbsent(URLDecoder.decode(key, StandardCharsets.UTF_8), URLDecoder.decode(value, StandardCharsets.UTF_8));
      } catch (IllegalArgumentException badEscape) {
        headers.putIfAbsent(key, value);
      }
    }
    return headers;
  }
}
