/*
 * edgekit firmware core: the few Arm v6-M/v7-M/v8-M system registers the core uses.
 * Addresses are from the Arm architecture reference manuals (System Control Space).
 */
#ifndef EK_REGS_H
#define EK_REGS_H

#include <stdint.h>

#define EK_REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System control block */
#define EK_SCB_ICSR   EK_REG32(0xE000ED04u)
#define EK_SCB_VTOR   EK_REG32(0xE000ED08u)
#define EK_SCB_CFSR   EK_REG32(0xE000ED28u)
#define EK_SCB_HFSR   EK_REG32(0xE000ED2Cu)
#define EK_SCB_CPACR  EK_REG32(0xE000ED88u)
#define EK_ICSR_PENDSTSET (1u << 26)
#define EK_ICSR_PENDSTCLR (1u << 25)

/* SysTick */
#define EK_SYST_CSR   EK_REG32(0xE000E010u)
#define EK_SYST_RVR   EK_REG32(0xE000E014u)
#define EK_SYST_CVR   EK_REG32(0xE000E018u)
#define EK_SYST_CSR_ENABLE    (1u << 0)
#define EK_SYST_CSR_TICKINT   (1u << 1)
#define EK_SYST_CSR_CLKSOURCE (1u << 2)

/* Debug: DEMCR.TRCENA gates the DWT */
#define EK_DEMCR      EK_REG32(0xE000EDFCu)
#define EK_DEMCR_TRCENA (1u << 24)
#define EK_DWT_CTRL   EK_REG32(0xE0001000u)
#define EK_DWT_CYCCNT EK_REG32(0xE0001004u)
#define EK_DWT_LAR    EK_REG32(0xE0001FB0u)
#define EK_DWT_CTRL_CYCCNTENA (1u << 0)
#define EK_DWT_CTRL_NOCYCCNT  (1u << 25)

static inline uint32_t ek_irq_save(void) {
    uint32_t primask;
    __asm__ __volatile__("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
}

static inline void ek_irq_restore(uint32_t primask) {
    __asm__ __volatile__("msr primask, %0" : : "r"(primask) : "memory");
}

static inline void ek_barrier(void) {
    __asm__ __volatile__("dsb\n\tisb" : : : "memory");
}

#endif /* EK_REGS_H */
