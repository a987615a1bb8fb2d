//! Integers as octet strings (XEP-0116 §6.1, profile P2): the minimal big-endian encoding,
//! with no leading zero octets, and the value 0 as the single octet 0x00.
use super::CryptoError;

/// The minimal big-endian encoding of the integer whose big-endian octets are `be`.
///
/// XEP-0116 §6.1: leading zero octets of a non-fixed-length integer MUST be removed. Zero
/// (and the empty string) is the single octet 0x00 (profile notation, `mpi(0)`).
pub fn mpi(be: &[u8]) -> &[u8] {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    match be.get(first..) {
        Some(rest) if !rest.is_empty() => rest,
        _ => &[0],
    }
}

/// The minimal big-endian encoding of a block counter (profile P2: in MAC inputs a counter
/// is `mpi(C)`).
pub fn mpi_u128(v: u128) -> Vec<u8> {
    mpi(&v.to_be_bytes()).to_vec()
}

/// Reads a received counter as an integer (profile P2: any length up to 16 octets once
/// leading zero octets are removed).
///
/// # Errors
/// [`CryptoError::EmptyCounter`] for no octets at all, [`CryptoError::CounterLength`] when
/// more than 16 significant octets remain.
pub fn u128_from_be(bytes: &[u8]) -> Result<u128, CryptoError> {
    if bytes.is_empty() {
        return Err(CryptoError::EmptyCounter);
    }
    let significant = mpi(bytes);
    if significant.len() > 16 {
        return Err(CryptoError::CounterLength {
            got: significant.len(),
        });
    }
    let mut block = [0u8; 16];
    let start = 16 - significant.len();
    if let Some(dst) = block.get_mut(start..) {
        dst.copy_from_slice(significant);
    }
    Ok(u128::from_be_bytes(block))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpi_edge_cases() {
        assert_eq!(mpi(&[]), &[0]);
        assert_eq!(mpi(&[0]), &[0]);
        assert_eq!(mpi(&[0, 0, 0]), &[0]);
        assert_eq!(mpi(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(mpi(&[0x80, 0]), &[0x80, 0]);
        assert_eq!(mpi(&[5]), &[5]);
    }

    #[test]
    fn counters_minimal() {
        assert_eq!(mpi_u128(0), vec![0]);
        assert_eq!(mpi_u128(1), vec![1]);
        assert_eq!(mpi_u128(0x1_00), vec![1, 0]);
        assert_eq!(mpi_u128(u128::MAX), vec![0xff; 16]);
        assert_eq!(mpi_u128(1 << 127).len(), 16);
    }

    #[test]
    fn counters_read_back() {
        assert_eq!(u128_from_be(&[0]).unwrap(), 0);
        assert_eq!(u128_from_be(&[1, 2]).unwrap(), 0x102);
        assert_eq!(u128_from_be(&[0xff; 16]).unwrap(), u128::MAX);
        let mut seventeen = vec![0u8];
        seventeen.extend_from_slice(&[0xab; 16]);
        assert_eq!(
            u128_from_be(&seventeen).unwrap(),
            u128::from_be_bytes([0xab; 16])
        );
        for v in [0u128, 7, 1 << 127, u128::MAX - 3] {
            assert_eq!(u128_from_be(&mpi_u128(v)).unwrap(), v);
            assert_eq!(u128_from_be(&v.to_be_bytes()).unwrap(), v);
        }
    }

    #[test]
    fn over_long_counter_is_an_error() {
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&[0; 16]);
        assert_eq!(
            u128_from_be(&bytes),
            Err(CryptoError::CounterLength { got: 17 })
        );
        assert_eq!(u128_from_be(&[]), Err(CryptoError::EmptyCounter));
    }
}
