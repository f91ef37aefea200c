// A list that draws only the rows in view: a thousand sessions cost a screenful of elements,
// reused as the list scrolls. Rows have one fixed height, so a row's place is arithmetic.

import { coalesced } from './frame.js';

export class VirtualList {
  /**
   * `scroller`: the element that scrolls; `rowHeight` in CSS pixels (the stylesheet's row
   * height); `createRow()` makes an empty row element; `fillRow(element, item)` writes an item
   * into one.
   */
  constructor(scroller, { rowHeight, createRow, fillRow, overscan = 8 }) {
    this.scroller = scroller;
    this.rowHeight = rowHeight;
    this.createRow = createRow;
    this.fillRow = fillRow;
    this.overscan = overscan;
    this.items = [];
    this.pool = [];
    this.spacer = document.createElement('div');
    this.spacer.className = 'vspacer';
    scroller.append(this.spacer);
    this.redraw = coalesced(() => this.render());
    scroller.addEventListener('scroll', this.redraw, { passive: true });
    window.addEventListener('resize', this.redraw, { passive: true });
  }

  setItems(items) {
    this.items = items;
    this.render();
  }

  render() {
    // CSSOM, not a style attribute: the page's Content-Security-Policy allows no inline style.
    this.spacer.style.height = `${this.items.length * this.rowHeight}px`;
    // As tall as its rows, up to the stylesheet's max-height: an empty list takes no room.
    this.scroller.style.height = `${this.items.length * this.rowHeight}px`;
    const height = this.scroller.clientHeight || window.innerHeight;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / this.rowHeight) - this.overscan);
    const wanted = Math.min(this.items.length - first, Math.ceil(height / this.rowHeight) + 2 * this.overscan);
    while (this.pool.length < wanted) {
      const row = this.createRow();
      row.classList.add('vrow');
      this.pool.push(row);
      this.scroller.append(row);
    }
    for (let index = 0; index < this.pool.length; index += 1) {
      const row = this.pool[index];
      const item = this.items[first + index];
      if (index >= wanted || item === undefined) {
        row.hidden = true;
        continue;
      }
      row.hidden = false;
      row.style.transform = `translateY(${(first + index) * this.rowHeight}px)`;
      this.fillRow(row, item);
    }
  }
}
