/**
 * Runs async jobs one at a time, in order. Modbus links carry one transaction at a time
 * (RS-485 strictly; many TCP gateways in practice), so every unit sharing a link queues here.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    // Not result.catch(): that settles with the job's value and would keep the last result alive.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
