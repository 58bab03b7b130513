package io.nodemesh.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An eBPF program written instruction by instruction (the encoding of the kernel's
 * {@code Documentation/bpf/standardization/instruction-set.rst}), with named forward jumps, for {@link Bpf#progLoad}.
 * Only what nodemesh's programs use: 32- and 64-bit moves and ALU with an immediate or a register, loads and stores,
 * 32- and 64-bit conditional jumps to labels, helper calls, a map's descriptor, byte swaps and exit. Registers are
 * {@code 0..10} ({@code r10} the read-only frame pointer).
 */
public final class BpfCode {

    private static final int LDX = 0x01;
    private static final int STX = 0x03;
    private static final int ALU = 0x04;
    private static final int JMP = 0x05;
    private static final int JMP32 = 0x06;
    private static final int ALU64 = 0x07;
    private static final int MEM = 0x60;
    private static final int K = 0x00;
    private static final int X = 0x08;
    private static final int MOV = 0xb0;
    private static final int AND = 0x50;
    private static final int ADD = 0x00;
    private static final int END = 0xd0;
    private static final int CALL = 0x80;
    private static final int EXIT = 0x90;
    private static final int PSEUDO_MAP_FD = 1;

    /** Access sizes of loads and stores. */
    public enum Size {
        W(0x00, 4), H(0x08, 2), B(0x10, 1), DW(0x18, 8);

        final int code;
        final int bytes;

        Size(int code, int bytes) {
            this.code = code;
            this.bytes = bytes;
        }
    }

    /** Conditional jumps, by their operation code. */
    public enum Cond {
        EQ(0x10), GT(0x20), GE(0x30), SET(0x40), NE(0x50);

        final int code;

        Cond(int code) {
            this.code = code;
        }
    }

    private record Insn(int op, int dst, int src, int off, int imm, String label) {
    }

    private final List<Insn> insns = new ArrayList<>();
    private final Map<String, Integer> labels = new HashMap<>();

    /** {@code dst = imm} (64-bit, the immediate sign-extended). */
    public BpfCode mov64(int dst, int imm) {
        return add(ALU64 | MOV | K, dst, 0, 0, imm);
    }

    /** {@code dst = src} (64-bit). */
    public BpfCode mov64Reg(int dst, int src) {
        return add(ALU64 | MOV | X, dst, src, 0, 0);
    }

    /** {@code wdst = wsrc} (32-bit, the upper half zeroed). */
    public BpfCode mov32Reg(int dst, int src) {
        return add(ALU | MOV | X, dst, src, 0, 0);
    }

    /** {@code wdst = imm} (32-bit, the upper half zeroed). */
    public BpfCode mov32(int dst, int imm) {
        return add(ALU | MOV | K, dst, 0, 0, imm);
    }

    /** {@code dst += imm} (64-bit). */
    public BpfCode add64(int dst, int imm) {
        return add(ALU64 | ADD | K, dst, 0, 0, imm);
    }

    /** {@code wdst &= imm} (32-bit). */
    public BpfCode and32(int dst, int imm) {
        return add(ALU | AND | K, dst, 0, 0, imm);
    }

    /** {@code dst = htobe16(dst)}: the low 16 bits in network order, the rest zeroed. */
    public BpfCode toBe16(int dst) {
        return add(ALU | END | X, dst, 0, 0, 16);
    }

    /** {@code dst = *(size *)(src + off)}. */
    public BpfCode load(Size size, int dst, int src, int off) {
        return add(LDX | MEM | size.code, dst, src, off, 0);
    }

    /** {@code *(size *)(dst + off) = src}. */
    public BpfCode store(Size size, int dst, int off, int src) {
        return add(STX | MEM | size.code, dst, src, off, 0);
    }

    /** {@code dst = } the map with descriptor {@code fd} (a 16-byte load the kernel resolves to the map). */
    public BpfCode loadMap(int dst, int fd) {
        add(0x18, dst, PSEUDO_MAP_FD, 0, fd);
        return add(0, 0, 0, 0, 0);
    }

    /** {@code if (wdst cond imm) goto label} (32-bit compare). */
    public BpfCode jump32(Cond cond, int dst, int imm, String label) {
        insns.add(new Insn(JMP32 | cond.code | K, dst, 0, 0, imm, label));
        return this;
    }

    /** {@code if (wdst cond wsrc) goto label} (32-bit compare of two registers). */
    public BpfCode jump32Reg(Cond cond, int dst, int src, String label) {
        insns.add(new Insn(JMP32 | cond.code | X, dst, src, 0, 0, label));
        return this;
    }

    /** {@code if (dst cond imm) goto label} (64-bit compare, the immediate sign-extended). */
    public BpfCode jump64(Cond cond, int dst, int imm, String label) {
        insns.add(new Insn(JMP | cond.code | K, dst, 0, 0, imm, label));
        return this;
    }

    /** {@code goto label}. */
    public BpfCode jump(String label) {
        insns.add(new Insn(JMP, 0, 0, 0, 0, label));
        return this;
    }

    /** Calls helper {@code id}: arguments in {@code r1..r5}, the result in {@code r0}; {@code r1..r5} clobbered. */
    public BpfCode call(int id) {
        return add(JMP | CALL, 0, 0, 0, id);
    }

    /** Returns {@code r0}. */
    public BpfCode exit() {
        return add(JMP | EXIT, 0, 0, 0, 0);
    }

    /** Names the next instruction. */
    public BpfCode label(String name) {
        if (labels.putIfAbsent(name, insns.size()) != null) {
            throw new IllegalArgumentException("label " + name + " defined twice");
        }
        return this;
    }

    /** The program's bytes, jumps resolved (8 bytes per instruction, little-endian as x86_64's kernel reads them). */
    public byte[] bytes() {
        ByteBuffer out = ByteBuffer.allocate(insns.size() * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < insns.size(); i++) {
            Insn in = insns.get(i);
            int off = in.off;
            if (in.label != null) {
                Integer target = labels.get(in.label);
                if (target == null) {
                    throw new IllegalArgumentException("no label " + in.label);
                }
                off = target - i - 1;
                if (off < 0 || off > Short.MAX_VALUE) {
                    throw new IllegalArgumentException("jump to " + in.label + " is not forward: " + off);
                }
            }
            out.put((byte) in.op).put((byte) ((in.src << 4) | in.dst)).putShort((short) off).putInt(in.imm);
        }
        return out.array();
    }

    /** Instructions so far. */
    public int size() {
        return insns.size();
    }

    private BpfCode add(int op, int dst, int src, int off, int imm) {
        if (dst < 0 || dst > 10 || src < 0 || src > 10) {
            throw new IllegalArgumentException("register out of range: r" + dst + ", r" + src);
        }
        insns.add(new Insn(op, dst, src, off, imm, null));
        return this;
    }
}
