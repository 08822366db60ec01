export function formatPrice(cents, currency = "EUR") {
  return new Intl.NumberFormat("en", { style: "currency", currency }).format(cents / 100);
}
export function notFound(path) {
  return { status: 404, body: { error: "not_found", path } };
}
