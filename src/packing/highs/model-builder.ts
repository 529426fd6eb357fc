import type { LinearModel } from './worker';

/** Accumulates a sparse model column by column, the layout HiGHS takes without conversion. */
export class ModelBuilder {
  private readonly rowLower: number[] = [];
  private readonly rowUpper: number[] = [];
  private readonly cost: number[] = [];
  private readonly lower: number[] = [];
  private readonly upper: number[] = [];
  private readonly integer: number[] = [];
  private readonly starts: number[] = [0];
  private readonly indices: number[] = [];
  private readonly values: number[] = [];

  get numCols(): number {
    return this.cost.length;
  }

  row(lower: number, upper: number): number {
    this.rowLower.push(lower);
    this.rowUpper.push(upper);
    return this.rowLower.length - 1;
  }

  col(
    cost: number,
    lower: number,
    upper: number,
    integer: boolean,
    rows: number[],
    values: number[],
  ): number {
    this.cost.push(cost);
    this.lower.push(lower);
    this.upper.push(upper);
    this.integer.push(integer ? 1 : 0);
    for (let j = 0; j < rows.length; j++) {
      if (values[j] === 0) continue;
      this.indices.push(rows[j]);
      this.values.push(values[j]);
    }
    this.starts.push(this.indices.length);
    return this.cost.length - 1;
  }

  build(mip: boolean): LinearModel {
    const big = 1e30;
    const clamp = (x: number) => (x === Infinity ? big : x === -Infinity ? -big : x);
    return {
      numCols: this.cost.length,
      numRows: this.rowLower.length,
      colCost: Float64Array.from(this.cost),
      colLower: Float64Array.from(this.lower, clamp),
      colUpper: Float64Array.from(this.upper, clamp),
      rowLower: Float64Array.from(this.rowLower, clamp),
      rowUpper: Float64Array.from(this.rowUpper, clamp),
      starts: Int32Array.from(this.starts),
      indices: Int32Array.from(this.indices),
      values: Float64Array.from(this.values),
      ...(mip ? { integrality: Int32Array.from(this.integer) } : {}),
    };
  }
}
