// http_response.cc - see http_response.h.
#include "proto/http_response.h"

#include <algorithm>
#include <cstring>

#include "proto/text_util.h"

namespace lbk {
namespace proto {
namespace {

// A chunk-size line is hex digits plus optional extensions; anything longer
// than this is not a reply a health check needs to read.
constexpr size_t kMaxChunkSizeLine = 1024;
constexpr uint64_t kMaxContentLength = uint64_t{1} << 62;
// Interim (1xx) responses allowed before the final one; a peer that sends
// more is not answering.
constexpr int kMaxInterimResponses = 8;

// Strips the line terminator ("\n" or "\r\n") kept by take_line().
std::string strip_eol(const std::string &line) {
  size_t n = line.size();
  if (n > 0 && line[n - 1] == '\n') n--;
  if (n > 0 && line[n - 1] == '\r') n--;
  return line.substr(0, n);
}

// Parses a non-empty run of decimal digits; false on anything else or on
// values above kMaxContentLength.
bool parse_decimal(const std::string &s, uint64_t *out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > kMaxContentLength) return false;
  }
  *out = v;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

HttpResponseParser::HttpResponseParser(Limits limits) : limits_(limits) {}

void HttpResponseParser::reset() {
  state_ = State::kNeedMore;
  phase_ = Phase::kStatusLine;
  line_.clear();
  header_bytes_ = 0;
  status_ = 0;
  reason_phrase_.clear();
  chunked_ = false;
  has_length_ = false;
  content_length_ = 0;
  remaining_ = 0;
  body_.clear();
  body_bytes_ = 0;
  offset_ = 0;
  interim_responses_ = 0;
  error_.clear();
}

HttpResponseParser::State HttpResponseParser::fail(State s,
                                                   const std::string &message) {
  state_ = s;
  phase_ = Phase::kDone;
  error_ = message;
  body_.clear();  // no partial body: a failed reply has none
  return s;
}

bool HttpResponseParser::take_line(const char *data, size_t len, size_t *pos,
                                   size_t cap, bool *over) {
  const char *start = data + *pos;
  const size_t avail = len - *pos;
  const void *nl = std::memchr(start, '\n', avail);
  const size_t take =
      nl != nullptr ? static_cast<size_t>(static_cast<const char *>(nl) - start) + 1
                    : avail;
  // Never copy more than one byte past the cap: that is enough to know.
  const size_t room = line_.size() <= cap ? cap - line_.size() + 1 : 0;
  line_.append(start, std::min(take, room));
  *pos += take;
  offset_ += take;
  *over = line_.size() > cap;
  return nl != nullptr;
}

HttpResponseParser::State HttpResponseParser::on_status_line(
    const std::string &raw) {
  const std::string line = strip_eol(raw);
  // HTTP/1.x SP 3DIGIT [SP reason-phrase]
  const bool shape_ok =
      line.size() >= 12 && line.compare(0, 7, "HTTP/1.") == 0 &&
      line[7] >= '0' && line[7] <= '9' && line[8] == ' ' &&
      std::all_of(line.begin() + 9, line.begin() + 12,
                  [](char c) { return c >= '0' && c <= '9'; }) &&
      (line.size() == 12 || line[12] == ' ');
  if (!shape_ok) {
    return fail(State::kError, "bad status line " + quoted_excerpt(line, 40));
  }
  status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status_ < 100 || status_ > 599) {
    return fail(State::kError, "status " + std::to_string(status_) +
                                   " out of range 100..599");
  }
  reason_phrase_ = line.size() > 13 ? line.substr(13) : std::string();
  phase_ = Phase::kHeaders;
  return State::kNeedMore;
}

HttpResponseParser::State HttpResponseParser::on_header_line(
    const std::string &raw) {
  const std::string line = strip_eol(raw);
  if (line.empty()) return on_headers_end();
  if (line[0] == ' ' || line[0] == '\t') {
    return fail(State::kError, "folded header line " + quoted_excerpt(line, 40));
  }
  const size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0 ||
      !std::all_of(line.begin(), line.begin() + static_cast<long>(colon),
                   [](char c) { return is_token_char(static_cast<unsigned char>(c)); })) {
    return fail(State::kError, "bad header line " + quoted_excerpt(line, 40));
  }
  const std::string name = ascii_lower(line.substr(0, colon));
  const std::string value = trim_blanks(line.substr(colon + 1));
  if (phase_ == Phase::kTrailers) return State::kNeedMore;  // names only

  if (name == "content-length") {
    // "5" or a list of identical values ("5, 5"), possibly repeated.
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      uint64_t n = 0;
      if (!parse_decimal(trim_blanks(value.substr(start, comma - start)), &n)) {
        return fail(State::kError, "bad Content-Length " + quoted_excerpt(value, 40));
      }
      if (has_length_ && n != content_length_) {
        return fail(State::kError, "conflicting Content-Length values");
      }
      has_length_ = true;
      content_length_ = n;
      start = comma + 1;
    }
  } else if (name == "transfer-encoding") {
    // Only the last coding matters: chunked must be final to frame the body;
    // any other final coding makes the body run to the end of the connection.
    const size_t comma = value.rfind(',');
    const std::string last =
        ascii_lower(trim_blanks(comma == std::string::npos ? value : value.substr(comma + 1)));
    chunked_ = last == "chunked";
    if (!chunked_) has_length_ = false;
  }
  return State::kNeedMore;
}

HttpResponseParser::State HttpResponseParser::on_headers_end() {
  if (phase_ == Phase::kTrailers) {
    phase_ = Phase::kDone;
    return state_ = State::kComplete;
  }
  header_bytes_ = 0;
  if (status_ >= 100 && status_ < 200 && status_ != 101) {
    // Interim response (100 Continue, 103 Early Hints): the real one follows.
    if (++interim_responses_ > kMaxInterimResponses) {
      return fail(State::kError, "more than " + std::to_string(kMaxInterimResponses) +
                                     " interim 1xx responses");
    }
    status_ = 0;
    reason_phrase_.clear();
    chunked_ = false;
    has_length_ = false;
    content_length_ = 0;
    phase_ = Phase::kStatusLine;
    return State::kNeedMore;
  }
  if (head_request_ || status_ == 101 || status_ == 204 || status_ == 304) {
    phase_ = Phase::kDone;
    return state_ = State::kComplete;
  }
  if (chunked_) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3).
    phase_ = Phase::kChunkSize;
    return State::kNeedMore;
  }
  if (has_length_) {
    if (keep_body_ && content_length_ > limits_.max_body_bytes) {
      return fail(State::kLimit, "Content-Length " + std::to_string(content_length_) +
                                     " exceeds the body limit of " +
                                     std::to_string(limits_.max_body_bytes) + " bytes");
    }
    if (content_length_ == 0) {
      phase_ = Phase::kDone;
      return state_ = State::kComplete;
    }
    remaining_ = content_length_;
    phase_ = Phase::kBodyLength;
    return State::kNeedMore;
  }
  phase_ = Phase::kBodyClose;
  return State::kNeedMore;
}

HttpResponseParser::State HttpResponseParser::on_chunk_size_line(
    const std::string &raw) {
  const std::string line = strip_eol(raw);
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size(); i++) {
    const int h = hex_value(line[i]);
    if (h < 0) break;
    if (i >= 15) return fail(State::kError, "chunk size too large");
    size = size * 16 + static_cast<uint64_t>(h);
  }
  if (i == 0 || (i < line.size() && line[i] != ';' && line[i] != ' ' &&
                 line[i] != '\t')) {
    return fail(State::kError, "bad chunk size line " + quoted_excerpt(line, 40));
  }
  if (size == 0) {
    phase_ = Phase::kTrailers;
    header_bytes_ = 0;
    return State::kNeedMore;
  }
  if (keep_body_ && body_bytes_ + size > limits_.max_body_bytes) {
    return fail(State::kLimit, "chunked body exceeds the body limit of " +
                                   std::to_string(limits_.max_body_bytes) + " bytes");
  }
  remaining_ = size;
  phase_ = Phase::kChunkData;
  return State::kNeedMore;
}

HttpResponseParser::State HttpResponseParser::on_body_bytes(const char *data,
                                                            size_t n) {
  if (keep_body_ && body_bytes_ + n > limits_.max_body_bytes) {
    return fail(State::kLimit, "body exceeds the body limit of " +
                                   std::to_string(limits_.max_body_bytes) + " bytes");
  }
  if (keep_body_) body_.append(data, n);
  body_bytes_ += n;
  return State::kNeedMore;
}

HttpResponseParser::State HttpResponseParser::feed(const char *data, size_t len) {
  size_t pos = 0;
  while (state_ == State::kNeedMore && pos < len) {
    switch (phase_) {
      case Phase::kStatusLine:
      case Phase::kHeaders:
      case Phase::kTrailers: {
        const size_t cap = limits_.max_header_bytes > header_bytes_
                               ? limits_.max_header_bytes - header_bytes_
                               : 0;
        bool over = false;
        const bool whole = take_line(data, len, &pos, cap, &over);
        if (over) {
          return fail(State::kLimit,
                      std::string(phase_ == Phase::kTrailers ? "trailers" : "headers") +
                          " exceed the header limit of " +
                          std::to_string(limits_.max_header_bytes) + " bytes");
        }
        if (!whole) break;
        header_bytes_ += line_.size();
        const std::string line = std::move(line_);
        line_.clear();
        if (phase_ == Phase::kStatusLine) {
          on_status_line(line);
        } else {
          on_header_line(line);
        }
        break;
      }
      case Phase::kChunkSize:
      case Phase::kChunkDataEnd: {
        bool over = false;
        const bool whole = take_line(data, len, &pos, kMaxChunkSizeLine, &over);
        if (over) return fail(State::kError, "chunk size line too long");
        if (!whole) break;
        const std::string line = std::move(line_);
        line_.clear();
        if (phase_ == Phase::kChunkSize) {
          on_chunk_size_line(line);
        } else if (!strip_eol(line).empty()) {
          fail(State::kError, "missing CRLF after chunk data");
        } else {
          phase_ = Phase::kChunkSize;
        }
        break;
      }
      case Phase::kBodyLength:
      case Phase::kChunkData: {
        const size_t n =
            static_cast<size_t>(std::min<uint64_t>(remaining_, len - pos));
        if (on_body_bytes(data + pos, n) != State::kNeedMore) break;
        pos += n;
        offset_ += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          if (phase_ == Phase::kChunkData) {
            phase_ = Phase::kChunkDataEnd;
          } else {
            phase_ = Phase::kDone;
            state_ = State::kComplete;
          }
        }
        break;
      }
      case Phase::kBodyClose: {
        const size_t n = len - pos;
        if (on_body_bytes(data + pos, n) != State::kNeedMore) break;
        pos += n;
        offset_ += n;
        break;
      }
      case Phase::kDone:
        return state_;
    }
  }
  return state_;
}

HttpResponseParser::State HttpResponseParser::eof() {
  if (state_ != State::kNeedMore) return state_;
  switch (phase_) {
    case Phase::kBodyClose:
      phase_ = Phase::kDone;
      return state_ = State::kComplete;
    case Phase::kStatusLine:
      if (offset_ == 0) return fail(State::kError, "connection closed without a reply");
      return fail(State::kError, "connection closed inside the status line");
    case Phase::kHeaders:
      return fail(State::kError, "connection closed inside the headers");
    case Phase::kBodyLength:
      return fail(State::kError,
                  "connection closed after " + std::to_string(body_bytes_) + " of " +
                      std::to_string(content_length_) + " body bytes");
    default:
      return fail(State::kError, "connection closed inside the chunked body");
  }
}

}  // namespace proto
}  // namespace lbk
