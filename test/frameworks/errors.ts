/** An error of the app's own, with a name, a message and a code the log must keep. */
export class PaymentDeclined extends Error {
  code = 'E_DECLINED';
  constructor() {
    super('card declined by the bank');
    this.name = 'PaymentDeclined';
  }
}
