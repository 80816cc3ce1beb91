package compress

// bzip2 uses the non-reflected CRC-32 (polynomial 0x04c11db7). It is only
// computed here for the last block of a truncated input; compress/bzip2
// checks every other block.

var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for k := 0; k < 8; k++ {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// updateCRC continues the bzip2 CRC crc (0 to start) over b.
func updateCRC(crc uint32, b []byte) uint32 {
	crc = ^crc
	for _, v := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^v]
	}
	return ^crc
}

// combineCRC folds a block CRC into a stream CRC the way bzip2 does.
func combineCRC(stream, block uint32) uint32 {
	return (stream<<1 | stream>>31) ^ block
}
