// Calls to a Web Worker as promises: each message carries an id, the worker answers with the same
// id, and an answer of type "error" rejects with its message. Used for the generator (worker.js, a
// module worker) and the landmarkers (estimator.js, classic workers).

export class Calls {
  constructor(url, options = {}, onError = null) {
    this.worker = new Worker(url, options);
    this.pending = new Map();
    this.nextId = 1;
    this.worker.onmessage = ({data}) => {
      const call = this.pending.get(data.id);
      if (!call) return;
      this.pending.delete(data.id);
      if (data.type === "error") call.reject(new Error(data.message));
      else call.resolve(data);
    };
    if (onError) this.worker.onerror = onError;
  }

  // Stop the worker; calls still waiting reject (a caller whose run has moved on ignores them).
  terminate() {
    this.worker.terminate();
    for (const call of this.pending.values()) call.reject(new Error("the worker was replaced"));
    this.pending.clear();
  }

  call(message, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject});
      this.worker.postMessage({...message, id}, transfer);
    });
  }
}
