//! An HTTP client whose connections come from a chosen loopback address (any 127.x.y.z is this
//! machine), so that a test can be many people, or a backend, each with its own address as the
//! server sees it, without a proxy in front.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport};

const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A ureq agent (4xx/5xx as responses, no redirects followed) whose connections come from `source`.
pub fn http_from(source: IpAddr) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(IO_TIMEOUT))
        .build();
    ureq::Agent::with_parts(config, FromAddress(source), DefaultResolver::default())
}

/// The `n`th of many distinct client addresses: 127.1.0.1, 127.1.0.2, …
pub fn nth_address(n: u32) -> IpAddr {
    IpAddr::from((0x7f01_0001u32 + n).to_be_bytes())
}

#[derive(Debug)]
struct FromAddress(IpAddr);

impl Connector for FromAddress {
    type Out = Bound;

    fn connect(&self, details: &ConnectionDetails, _: Option<()>) -> Result<Option<Bound>, ureq::Error> {
        let target = details.addrs.first().copied().ok_or(ureq::Error::HostNotFound)?;
        let stream = connect_from(self.0, target)?;
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Bound { stream, buffers }))
    }
}

/// A TCP connection from `source` to `target`.
pub fn connect_from(source: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(target), socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect(&target.into())?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A plain blocking connection; never reused (each request opens its own).
#[derive(Debug)]
struct Bound {
    stream: TcpStream,
    buffers: LazyBuffers,
}

impl Transport for Bound {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, _: NextTimeout) -> Result<(), ureq::Error> {
        let output = &self.buffers.output()[..amount];
        Ok(self.stream.write_all(output)?)
    }

    fn await_input(&mut self, _: NextTimeout) -> Result<bool, ureq::Error> {
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        false
    }
}
