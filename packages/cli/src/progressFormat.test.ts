import { describe, expect, it } from 'vitest';
import { epochFields, formatBar, formatBarLine, formatClock, formatEpochLine, formatPlainLine, formatSeconds, formatValue, formatWorkerLine, progressFields } from './progressFormat.js';

const figures = { epoch: 2, epochs: 10, done: 7, batches: 13, loss: 0.43124, metrics: { accuracy: 0.81 }, etaSeconds: 12.4, samplesPerSecond: 412.3, msPerStep: 23.4 };

describe('progress figures', () => {
  it('rounds values as Keras prints them', () => {
    expect(formatValue(0.431249)).toBe('0.4312');
    expect(formatValue(686.84456)).toBe('686.8446');
    expect(formatValue(0.000123456)).toBe('1.2346e-4');
  });

  it('writes times left as clocks and epoch times in seconds', () => {
    expect(formatClock(7.4)).toBe('0:07');
    expect(formatClock(725)).toBe('12:05');
    expect(formatClock(3723)).toBe('1:02:03');
    expect(formatSeconds(0.27)).toBe('0.3s');
    expect(formatSeconds(12.4)).toBe('12s');
    expect(formatSeconds(725)).toBe('12m05s');
  });

  it('draws the bar with its head, full at the end', () => {
    expect(formatBar(0, 10, 10)).toBe('[>.........]');
    expect(formatBar(5, 10, 10)).toBe('[=====>....]');
    expect(formatBar(10, 10, 10)).toBe('[==========]');
  });

  it('makes the bar line, the plain line and the worker line', () => {
    expect(formatBarLine(figures)).toBe('Epoch 2/10  7/13 [================>.............] ETA 0:12  loss 0.4312  accuracy 0.8100  412 samples/s  23 ms/step');
    expect(formatPlainLine(figures, 3)).toBe('Epoch 2/10 - step 7/13 - ETA 0:12 - loss: 0.4312 - accuracy: 0.8100 - 412 samples/s - 23 ms/step - 3 workers');
    expect(formatWorkerLine(2, 58.31)).toBe('workers: 2 alive  58.3 chunks/s');
    expect(formatWorkerLine(1, undefined)).toBe('workers: 1 alive');
    expect(progressFields(figures, 3)).toEqual({ epoch: 2, epochs: 10, step: 7, steps: 13, etaSeconds: 12.4, loss: 0.4312, metrics: { accuracy: 0.81 }, samplesPerSecond: 412, msPerStep: 23.4, workers: 3 });
  });

  it('reports an epoch once, Keras-style, with validation figures', () => {
    const report = { epoch: 3, epochs: 10, learningRate: 0.001, samplesPerSecond: 400, loss: 0.43124, metrics: { accuracy: 0.81 }, valLoss: 0.5, valMetrics: { accuracy: 0.75 }, seconds: 12.2 };
    expect(formatEpochLine(report, 23.4)).toBe('Epoch 3/10 - 12s 23ms/step - loss: 0.4312 - accuracy: 0.8100 - val_loss: 0.5000 - val_accuracy: 0.7500');
    expect(formatEpochLine({ ...report, valLoss: undefined, valMetrics: undefined })).toBe('Epoch 3/10 - 12s - loss: 0.4312 - accuracy: 0.8100');
    expect(epochFields(report)).toEqual({ epoch: 3, epochs: 10, seconds: 12.2, loss: 0.4312, metrics: { accuracy: 0.81 }, valLoss: 0.5, valMetrics: { accuracy: 0.75 } });
  });
});
