package asl

import (
	"math/rand/v2"
)

// requestID is a random (version 4) UUID for the request ids AWS puts in
// service responses and Lambda contexts (x-amzn-RequestId,
// SdkResponseMetadata.RequestId, AwsRequestID). They only need to be
// unique, not unguessable, so they come from math/rand/v2's per-thread
// ChaCha8 source rather than crypto/rand: one allocation and no system
// call per task. Task tokens and generated execution names, which a caller
// may treat as capabilities, stay crypto/rand UUIDs.
func requestID() string {
	const hexDigits = "0123456789abcdef"
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	var b [36]byte
	j := 0
	for i := 0; i < 32; i++ {
		if j == 8 || j == 13 || j == 18 || j == 23 {
			b[j] = '-'
			j++
		}
		w := hi
		if i >= 16 {
			w = lo
		}
		b[j] = hexDigits[(w>>(60-4*(i%16)))&0xf]
		j++
	}
	return string(b[:])
}
