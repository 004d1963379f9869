// bits.h - small bit-level helpers shared by the pool and the algorithms.
//
// splitmix64: the finalizer of Steele, Lea and Flood's SplitMix64, a
// bijective 64-bit mixer; the pool uses it as a counter-based random
// generator and Maglev to derive a member's offset and skip from its name.
// bits_to_double / double_to_bits: a double kept in a std::atomic<uint64_t>
// (shared memory holds no atomic<double>), converted without aliasing UB.
#ifndef LBK_SRC_BITS_H
#define LBK_SRC_BITS_H

#include <stdint.h>

#include <atomic>
#include <cstring>

namespace lbk {

inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline double bits_to_double(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

inline uint64_t double_to_bits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

// The double stored in bits, read with relaxed ordering.
inline double load_double(const std::atomic<uint64_t> &bits) {
  return bits_to_double(bits.load(std::memory_order_relaxed));
}

}  // namespace lbk

#endif
