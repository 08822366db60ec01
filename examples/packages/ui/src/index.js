export function button(label) {
  return `<button class="acme-btn">${label}</button>`;
}
