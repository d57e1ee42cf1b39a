#include "textflag.h"

// func sqL2Lanes(a, b *float32, n int, out *[4]float32)
// out[j] = Σ over each block of 8 (of the first n, n a multiple of 8) of
// (a[j]−b[j])² + (a[j+4]−b[j+4])², added block by block: the lanes of
// sqL2's four accumulators, in the same order of operations.
TEXT ·sqL2Lanes(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ out+24(FP), DX
	XORPS X0, X0
loop:
	CMPQ CX, $8
	JL done
	MOVUPS (SI), X1
	MOVUPS 16(SI), X2
	MOVUPS (DI), X3
	MOVUPS 16(DI), X4
	SUBPS X3, X1
	SUBPS X4, X2
	MULPS X1, X1
	MULPS X2, X2
	ADDPS X2, X1
	ADDPS X1, X0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP loop
done:
	MOVUPS X0, (DX)
	RET

// func dotLanes(a, b *float32, n int, out *[4]float32)
// out[j] = Σ over each block of 8 of a[j]·b[j] + a[j+4]·b[j+4]: dot's
// four accumulators, in the same order of operations.
TEXT ·dotLanes(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ out+24(FP), DX
	XORPS X0, X0
dloop:
	CMPQ CX, $8
	JL ddone
	MOVUPS (SI), X1
	MOVUPS 16(SI), X2
	MOVUPS (DI), X3
	MOVUPS 16(DI), X4
	MULPS X3, X1
	MULPS X4, X2
	ADDPS X2, X1
	ADDPS X1, X0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP dloop
ddone:
	MOVUPS X0, (DX)
	RET

// func sqL2U8Blocks(a, b *uint8, n int) uint32
// The sum of (a[i]−b[i])² over the first n bytes (n a multiple of 16), in
// SSE2: |a−b| from two saturating subtractions, widened to 16 bits and
// squared and paired by PMADDWD, 32 bytes a round while they last. Integer
// sums, so any order gives the portable loop's result.
TEXT ·sqL2U8Blocks(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	PXOR X0, X0
	PXOR X4, X4
	PXOR X7, X7
qloop32:
	CMPQ CX, $32
	JL qloop
	MOVOU (SI), X1
	MOVOU (DI), X2
	MOVOU 16(SI), X8
	MOVOU 16(DI), X9
	MOVO X1, X3
	MOVO X8, X10
	PSUBUSB X2, X1
	PSUBUSB X3, X2
	PSUBUSB X9, X8
	PSUBUSB X10, X9
	POR X2, X1
	POR X9, X8
	MOVO X1, X2
	MOVO X8, X9
	PUNPCKLBW X7, X1
	PUNPCKHBW X7, X2
	PUNPCKLBW X7, X8
	PUNPCKHBW X7, X9
	PMADDWL X1, X1
	PMADDWL X2, X2
	PMADDWL X8, X8
	PMADDWL X9, X9
	PADDL X1, X0
	PADDL X2, X4
	PADDL X8, X0
	PADDL X9, X4
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $32, CX
	JMP qloop32
qloop:
	CMPQ CX, $16
	JL qdone
	MOVOU (SI), X1
	MOVOU (DI), X2
	MOVO X1, X3
	PSUBUSB X2, X1
	PSUBUSB X3, X2
	POR X2, X1
	MOVO X1, X2
	PUNPCKLBW X7, X1
	PUNPCKHBW X7, X2
	PMADDWL X1, X1
	PMADDWL X2, X2
	PADDL X1, X0
	PADDL X2, X4
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $16, CX
	JMP qloop
qdone:
	PADDL X4, X0
	PSHUFD $0x4E, X0, X1
	PADDL X1, X0
	PSHUFD $0xB1, X0, X1
	PADDL X1, X0
	MOVQ X0, AX
	MOVL AX, ret+24(FP)
	RET

// func prefetchRows(base *byte, rows *uint32, n, stride, lines int)
// Asks the cache for the first lines 64-byte lines of row rows[i] of a
// slab (row r at base + r·stride), for each of the n rows: a hint, which
// never faults.
TEXT ·prefetchRows(SB), NOSPLIT, $0-40
	MOVQ base+0(FP), SI
	MOVQ rows+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), DX
	MOVQ lines+32(FP), R8
ploop:
	TESTQ CX, CX
	JZ pdone
	MOVL (DI), AX
	IMULQ DX, AX
	ADDQ SI, AX
	MOVQ R8, BX
pline:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	DECQ BX
	JNZ pline
	ADDQ $4, DI
	DECQ CX
	JMP ploop
pdone:
	RET
