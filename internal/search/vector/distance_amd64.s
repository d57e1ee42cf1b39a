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
