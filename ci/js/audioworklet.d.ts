// The AudioWorkletGlobalScope (Web Audio API, section 1.32), which TypeScript's libs lack.
declare var sampleRate: number;
declare var currentFrame: number;
declare var currentTime: number;

declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor();
}

declare function registerProcessor(
  name: string,
  processorCtor: new (options: any) => AudioWorkletProcessor,
): void;
