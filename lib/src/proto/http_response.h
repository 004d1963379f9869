// http_response.h - incremental, bounded HTTP/1.x response reader.
//
// Feed it bytes as they arrive (split anywhere); it recognises the status
// line, headers, and a body delimited by Content-Length, chunked
// transfer-coding or the end of the connection.  Interim 1xx responses are
// skipped.  It never buffers more than the header limit (for the status
// line, header and trailer section and chunk-size lines) plus the body limit,
// and stores the body only when asked to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lbk {
namespace proto {

class HttpResponseParser {
 public:
  enum class State {
    kNeedMore,  // feed more bytes (or call eof())
    kComplete,  // the whole response was read; later bytes are ignored
    kError,     // malformed or truncated: error() says what and where
    kLimit      // a size limit was exceeded: error() says which
  };

  struct Limits {
    size_t max_header_bytes;  // status line + headers (+ trailers)
    size_t max_body_bytes;    // decoded body bytes
  };

  explicit HttpResponseParser(Limits limits);

  // Forgets the current response; keeps limits, options and buffer capacity.
  void reset();
  // A reply to HEAD carries no body whatever its headers say.
  void set_head_request(bool head) { head_request_ = head; }
  // Keep the body (default true); when false body bytes are only counted,
  // and the body limit does not apply (nothing is stored).
  void set_keep_body(bool keep) { keep_body_ = keep; }

  // Consumes @p len bytes.  Returns the state after them.  Once the state is
  // not kNeedMore further calls return it unchanged.
  State feed(const char *data, size_t len);
  // The peer closed the connection: completes a close-delimited body, or
  // fails a response that was cut short.
  State eof();

  State state() const { return state_; }
  bool headers_complete() const { return phase_ > Phase::kHeaders; }
  int status() const { return status_; }          // 0 until the status line
  const std::string &reason_phrase() const { return reason_phrase_; }
  const std::string &body() const { return body_; }
  uint64_t body_bytes() const { return body_bytes_; }
  const std::string &error() const { return error_; }
  // Bytes consumed so far (for "at byte N" in messages).
  uint64_t offset() const { return offset_; }

 private:
  enum class Phase {
    kStatusLine,
    kHeaders,
    kBodyLength,   // Content-Length bytes
    kBodyClose,    // until eof()
    kChunkSize,
    kChunkData,
    kChunkDataEnd,  // the CRLF after a chunk
    kTrailers,
    kDone
  };

  State fail(State s, const std::string &message);
  // Appends to line_ up to and including '\n'; true once a line is whole.
  // Advances *pos.  Enforces @p cap on the line's length.
  bool take_line(const char *data, size_t len, size_t *pos, size_t cap,
                 bool *over);
  State on_status_line(const std::string &line);
  State on_header_line(const std::string &line);
  State on_headers_end();
  State on_chunk_size_line(const std::string &line);
  State on_body_bytes(const char *data, size_t n);

  Limits limits_;
  bool head_request_ = false;
  bool keep_body_ = true;

  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kStatusLine;
  std::string line_;
  size_t header_bytes_ = 0;  // of the current header (or trailer) section
  int status_ = 0;
  std::string reason_phrase_;
  bool chunked_ = false;
  bool has_length_ = false;
  uint64_t content_length_ = 0;
  uint64_t remaining_ = 0;  // of Content-Length or of the current chunk
  std::string body_;
  uint64_t body_bytes_ = 0;
  uint64_t offset_ = 0;
  int interim_responses_ = 0;
  std::string error_;
};

}  // namespace proto
}  // namespace lbk
